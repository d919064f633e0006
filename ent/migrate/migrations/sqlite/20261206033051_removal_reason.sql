-- +goose Up
-- add column "reason" to table: "removed_messages"
ALTER TABLE `removed_messages` ADD COLUMN `reason` text NULL;
-- add column "removing_since" to table: "removed_messages"
ALTER TABLE `removed_messages` ADD COLUMN `removing_since` datetime NULL;

-- +goose Down
-- reverse: add column "removing_since" to table: "removed_messages"
ALTER TABLE `removed_messages` DROP COLUMN `removing_since`;
-- reverse: add column "reason" to table: "removed_messages"
ALTER TABLE `removed_messages` DROP COLUMN `reason`;
