-- +goose Up
-- disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- create "new_pending_messages" table
CREATE TABLE `new_pending_messages` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `item_hash` text NOT NULL, `type` text NOT NULL, `chain` text NOT NULL, `sender` text NOT NULL, `signature` text NOT NULL DEFAULT (''), `item_type` text NOT NULL, `item_content` text NULL, `content` json NULL, `time` datetime NOT NULL, `channel` text NULL, `reception_time` datetime NOT NULL, `check_message` bool NOT NULL DEFAULT (true), `next_attempt` datetime NOT NULL, `retries` integer NOT NULL DEFAULT (0), `fetched` bool NOT NULL DEFAULT (false), `origin` text NOT NULL, `last_error_code` integer NULL, `last_error` text NULL, `claimed_by` text NULL, `claimed_until` datetime NULL, `waits_on` text NULL, `tx_hash` text NULL, CONSTRAINT `pending_messages_chain_txs_tx` FOREIGN KEY (`tx_hash`) REFERENCES `chain_txs` (`hash`) ON DELETE SET NULL);
-- copy rows from old table "pending_messages" to new temporary table "new_pending_messages"
INSERT INTO `new_pending_messages` (`id`, `item_hash`, `type`, `chain`, `sender`, `signature`, `item_type`, `item_content`, `content`, `time`, `channel`, `reception_time`, `check_message`, `next_attempt`, `retries`, `fetched`, `origin`, `last_error_code`, `last_error`, `claimed_by`, `claimed_until`, `tx_hash`) SELECT `id`, `item_hash`, `type`, `chain`, `sender`, `signature`, `item_type`, `item_content`, `content`, `time`, `channel`, `reception_time`, `check_message`, `next_attempt`, `retries`, `fetched`, `origin`, `last_error_code`, `last_error`, `claimed_by`, `claimed_until`, `tx_hash` FROM `pending_messages`;
-- drop "pending_messages" table after copying rows
DROP TABLE `pending_messages`;
-- rename temporary table "new_pending_messages" to "pending_messages"
ALTER TABLE `new_pending_messages` RENAME TO `pending_messages`;
-- create index "pendingmessage_sender_item_hash_signature" to table: "pending_messages"
CREATE UNIQUE INDEX `pendingmessage_sender_item_hash_signature` ON `pending_messages` (`sender`, `item_hash`, `signature`);
-- create index "pendingmessage_fetched_next_attempt" to table: "pending_messages"
CREATE INDEX `pendingmessage_fetched_next_attempt` ON `pending_messages` (`fetched`, `next_attempt`);
-- create index "pendingmessage_item_hash" to table: "pending_messages"
CREATE INDEX `pendingmessage_item_hash` ON `pending_messages` (`item_hash`);
-- create index "pendingmessage_time" to table: "pending_messages"
CREATE INDEX `pendingmessage_time` ON `pending_messages` (`time`);
-- create index "pendingmessage_waits_on" to table: "pending_messages"
CREATE INDEX `pendingmessage_waits_on` ON `pending_messages` (`waits_on`);
-- enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;

-- +goose Down
-- reverse: create index "pendingmessage_waits_on" to table: "pending_messages"
DROP INDEX `pendingmessage_waits_on`;
-- reverse: create index "pendingmessage_time" to table: "pending_messages"
DROP INDEX `pendingmessage_time`;
-- reverse: create index "pendingmessage_item_hash" to table: "pending_messages"
DROP INDEX `pendingmessage_item_hash`;
-- reverse: create index "pendingmessage_fetched_next_attempt" to table: "pending_messages"
DROP INDEX `pendingmessage_fetched_next_attempt`;
-- reverse: create index "pendingmessage_sender_item_hash_signature" to table: "pending_messages"
DROP INDEX `pendingmessage_sender_item_hash_signature`;
-- reverse: create "new_pending_messages" table
DROP TABLE `new_pending_messages`;
