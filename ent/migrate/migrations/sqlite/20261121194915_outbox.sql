-- +goose Up
-- create "message_events" table
CREATE TABLE `message_events` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `item_hash` text NOT NULL, `kind` text NOT NULL, `created_at` datetime NOT NULL, `related` text NULL, `error_code` integer NULL);
-- create index "messageevent_item_hash" to table: "message_events"
CREATE INDEX `messageevent_item_hash` ON `message_events` (`item_hash`);
-- create index "messageevent_created_at" to table: "message_events"
CREATE INDEX `messageevent_created_at` ON `message_events` (`created_at`);

-- +goose Down
-- reverse: create index "messageevent_created_at" to table: "message_events"
DROP INDEX `messageevent_created_at`;
-- reverse: create index "messageevent_item_hash" to table: "message_events"
DROP INDEX `messageevent_item_hash`;
-- reverse: create "message_events" table
DROP TABLE `message_events`;
