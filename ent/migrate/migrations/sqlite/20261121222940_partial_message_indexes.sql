-- Hand-written: atlas's diff rebuilds the messages table to change these
-- indexes, and its DROP TABLE would cascade-delete the rows of message_tags,
-- message_confirmations and account_costs (PRAGMA foreign_keys = off does
-- nothing inside goose's transaction). Recreating the indexes is enough.
-- +goose Up
-- make index "message_content_type_time_item_hash" partial: rows where content_type is not NULL
DROP INDEX `message_content_type_time_item_hash`;
CREATE INDEX `message_content_type_time_item_hash` ON `messages` (`content_type`, `time`, `item_hash`) WHERE content_type IS NOT NULL;
-- make index "message_content_ref" partial: rows where content_ref is not NULL
DROP INDEX `message_content_ref`;
CREATE INDEX `message_content_ref` ON `messages` (`content_ref`) WHERE content_ref IS NOT NULL;
-- make index "message_content_key_owner" partial: rows where content_key is not NULL
DROP INDEX `message_content_key_owner`;
CREATE INDEX `message_content_key_owner` ON `messages` (`content_key`, `owner`) WHERE content_key IS NOT NULL;
-- make index "message_content_item_hash" partial: rows where content_item_hash is not NULL
DROP INDEX `message_content_item_hash`;
CREATE INDEX `message_content_item_hash` ON `messages` (`content_item_hash`) WHERE content_item_hash IS NOT NULL;
-- make index "message_payment_type" partial: rows where payment_type is not NULL
DROP INDEX `message_payment_type`;
CREATE INDEX `message_payment_type` ON `messages` (`payment_type`) WHERE payment_type IS NOT NULL;

-- +goose Down
-- reverse: make index "message_payment_type" partial
DROP INDEX `message_payment_type`;
CREATE INDEX `message_payment_type` ON `messages` (`payment_type`);
-- reverse: make index "message_content_item_hash" partial
DROP INDEX `message_content_item_hash`;
CREATE INDEX `message_content_item_hash` ON `messages` (`content_item_hash`);
-- reverse: make index "message_content_key_owner" partial
DROP INDEX `message_content_key_owner`;
CREATE INDEX `message_content_key_owner` ON `messages` (`content_key`, `owner`);
-- reverse: make index "message_content_ref" partial
DROP INDEX `message_content_ref`;
CREATE INDEX `message_content_ref` ON `messages` (`content_ref`);
-- reverse: make index "message_content_type_time_item_hash" partial
DROP INDEX `message_content_type_time_item_hash`;
CREATE INDEX `message_content_type_time_item_hash` ON `messages` (`content_type`, `time`, `item_hash`);
