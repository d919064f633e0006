-- +goose Up
-- modify "removed_messages" table
ALTER TABLE "removed_messages" ADD COLUMN "reason" character varying NULL, ADD COLUMN "removing_since" timestamptz NULL;

-- +goose Down
-- reverse: modify "removed_messages" table
ALTER TABLE "removed_messages" DROP COLUMN "removing_since", DROP COLUMN "reason";
