-- +goose Up
-- modify "pending_messages" table
ALTER TABLE "pending_messages" ADD COLUMN "waits_on" character varying NULL;
-- create index "pendingmessage_waits_on" to table: "pending_messages"
CREATE INDEX "pendingmessage_waits_on" ON "pending_messages" ("waits_on");

-- +goose Down
-- reverse: create index "pendingmessage_waits_on" to table: "pending_messages"
DROP INDEX "pendingmessage_waits_on";
-- reverse: modify "pending_messages" table
ALTER TABLE "pending_messages" DROP COLUMN "waits_on";
