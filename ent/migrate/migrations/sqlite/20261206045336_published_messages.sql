-- +goose Up
-- create "published_messages" table
CREATE TABLE `published_messages` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `item_hash` text NOT NULL, `chain` text NOT NULL, `cid` text NOT NULL, `tx_hash` text NOT NULL DEFAULT (''), `published_at` datetime NOT NULL);
-- create index "publishedmessage_item_hash_chain" to table: "published_messages"
CREATE UNIQUE INDEX `publishedmessage_item_hash_chain` ON `published_messages` (`item_hash`, `chain`);
-- create index "publishedmessage_cid" to table: "published_messages"
CREATE INDEX `publishedmessage_cid` ON `published_messages` (`cid`);
-- create index "publishedmessage_tx_hash" to table: "published_messages"
CREATE INDEX `publishedmessage_tx_hash` ON `published_messages` (`tx_hash`);

-- +goose Down
-- reverse: create index "publishedmessage_tx_hash" to table: "published_messages"
DROP INDEX `publishedmessage_tx_hash`;
-- reverse: create index "publishedmessage_cid" to table: "published_messages"
DROP INDEX `publishedmessage_cid`;
-- reverse: create index "publishedmessage_item_hash_chain" to table: "published_messages"
DROP INDEX `publishedmessage_item_hash_chain`;
-- reverse: create "published_messages" table
DROP TABLE `published_messages`;
