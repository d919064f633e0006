-- +goose Up
-- modify "chain_txs" table
ALTER TABLE "chain_txs" ADD COLUMN "error" character varying NULL;
-- modify "pending_txs" table
ALTER TABLE "pending_txs" ADD COLUMN "last_error" character varying NULL;

-- +goose Down
-- reverse: modify "pending_txs" table
ALTER TABLE "pending_txs" DROP COLUMN "last_error";
-- reverse: modify "chain_txs" table
ALTER TABLE "chain_txs" DROP COLUMN "error";
