-- +goose Up
-- add column "error" to table: "chain_txs"
ALTER TABLE `chain_txs` ADD COLUMN `error` text NULL;
-- add column "last_error" to table: "pending_txs"
ALTER TABLE `pending_txs` ADD COLUMN `last_error` text NULL;

-- +goose Down
-- reverse: add column "last_error" to table: "pending_txs"
ALTER TABLE `pending_txs` DROP COLUMN `last_error`;
-- reverse: add column "error" to table: "chain_txs"
ALTER TABLE `chain_txs` DROP COLUMN `error`;
