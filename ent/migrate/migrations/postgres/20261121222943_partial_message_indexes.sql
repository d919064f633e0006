-- +goose Up
-- drop index "message_content_item_hash" from table: "messages"
DROP INDEX "message_content_item_hash";
-- drop index "message_content_key_owner" from table: "messages"
DROP INDEX "message_content_key_owner";
-- drop index "message_content_ref" from table: "messages"
DROP INDEX "message_content_ref";
-- drop index "message_content_type_time_item_hash" from table: "messages"
DROP INDEX "message_content_type_time_item_hash";
-- drop index "message_payment_type" from table: "messages"
DROP INDEX "message_payment_type";
-- create index "message_content_item_hash" to table: "messages"
CREATE INDEX "message_content_item_hash" ON "messages" ("content_item_hash") WHERE (content_item_hash IS NOT NULL);
-- create index "message_content_key_owner" to table: "messages"
CREATE INDEX "message_content_key_owner" ON "messages" ("content_key", "owner") WHERE (content_key IS NOT NULL);
-- create index "message_content_ref" to table: "messages"
CREATE INDEX "message_content_ref" ON "messages" ("content_ref") WHERE (content_ref IS NOT NULL);
-- create index "message_content_type_time_item_hash" to table: "messages"
CREATE INDEX "message_content_type_time_item_hash" ON "messages" ("content_type", "time", "item_hash") WHERE (content_type IS NOT NULL);
-- create index "message_payment_type" to table: "messages"
CREATE INDEX "message_payment_type" ON "messages" ("payment_type") WHERE (payment_type IS NOT NULL);

-- +goose Down
-- reverse: create index "message_payment_type" to table: "messages"
DROP INDEX "message_payment_type";
-- reverse: create index "message_content_type_time_item_hash" to table: "messages"
DROP INDEX "message_content_type_time_item_hash";
-- reverse: create index "message_content_ref" to table: "messages"
DROP INDEX "message_content_ref";
-- reverse: create index "message_content_key_owner" to table: "messages"
DROP INDEX "message_content_key_owner";
-- reverse: create index "message_content_item_hash" to table: "messages"
DROP INDEX "message_content_item_hash";
-- reverse: drop index "message_payment_type" from table: "messages"
CREATE INDEX "message_payment_type" ON "messages" ("payment_type");
-- reverse: drop index "message_content_type_time_item_hash" from table: "messages"
CREATE INDEX "message_content_type_time_item_hash" ON "messages" ("content_type", "time", "item_hash");
-- reverse: drop index "message_content_ref" from table: "messages"
CREATE INDEX "message_content_ref" ON "messages" ("content_ref");
-- reverse: drop index "message_content_key_owner" from table: "messages"
CREATE INDEX "message_content_key_owner" ON "messages" ("content_key", "owner");
-- reverse: drop index "message_content_item_hash" from table: "messages"
CREATE INDEX "message_content_item_hash" ON "messages" ("content_item_hash");
