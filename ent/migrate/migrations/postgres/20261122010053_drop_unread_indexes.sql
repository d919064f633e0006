-- +goose Up
-- drop index "messageevent_created_at" from table: "message_events"
DROP INDEX "messageevent_created_at";
-- drop index "messageevent_item_hash" from table: "message_events"
DROP INDEX "messageevent_item_hash";
-- drop index "messagestatus_status_updated_at" from table: "message_status"
DROP INDEX "messagestatus_status_updated_at";

-- +goose Down
-- reverse: drop index "messagestatus_status_updated_at" from table: "message_status"
CREATE INDEX "messagestatus_status_updated_at" ON "message_status" ("status", "updated_at");
-- reverse: drop index "messageevent_item_hash" from table: "message_events"
CREATE INDEX "messageevent_item_hash" ON "message_events" ("item_hash");
-- reverse: drop index "messageevent_created_at" from table: "message_events"
CREATE INDEX "messageevent_created_at" ON "message_events" ("created_at");
