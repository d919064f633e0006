-- +goose Up
-- create "account_costs" table
CREATE TABLE `account_costs` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `owner` text NOT NULL, `type` text NOT NULL, `name` text NOT NULL, `ref` text NULL, `payment_type` text NOT NULL, `cost_hold` text NOT NULL DEFAULT ('0'), `cost_stream` text NOT NULL DEFAULT ('0'), `cost_credit` text NOT NULL DEFAULT ('0'), `item_hash` text NOT NULL, CONSTRAINT `account_costs_messages_costs` FOREIGN KEY (`item_hash`) REFERENCES `messages` (`item_hash`) ON DELETE CASCADE);
-- create index "accountcost_owner_item_hash_type_name" to table: "account_costs"
CREATE UNIQUE INDEX `accountcost_owner_item_hash_type_name` ON `account_costs` (`owner`, `item_hash`, `type`, `name`);
-- create index "accountcost_item_hash" to table: "account_costs"
CREATE INDEX `accountcost_item_hash` ON `account_costs` (`item_hash`);
-- create index "accountcost_owner_payment_type" to table: "account_costs"
CREATE INDEX `accountcost_owner_payment_type` ON `account_costs` (`owner`, `payment_type`);
-- create "aggregates" table
CREATE TABLE `aggregates` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `owner` text NOT NULL, `key` text NOT NULL, `content` json NOT NULL, `creation_datetime` datetime NOT NULL, `last_updated` datetime NOT NULL, `last_revision_hash` text NOT NULL, `element_count` integer NOT NULL DEFAULT (0));
-- create index "aggregate_owner_key" to table: "aggregates"
CREATE UNIQUE INDEX `aggregate_owner_key` ON `aggregates` (`owner`, `key`);
-- create index "aggregate_key" to table: "aggregates"
CREATE INDEX `aggregate_key` ON `aggregates` (`key`);
-- create "aggregate_elements" table
CREATE TABLE `aggregate_elements` (`item_hash` text NOT NULL, `key` text NOT NULL, `owner` text NOT NULL, `content` json NOT NULL, `creation_datetime` datetime NOT NULL, PRIMARY KEY (`item_hash`));
-- create index "aggregateelement_owner_key_creation_datetime_item_hash" to table: "aggregate_elements"
CREATE INDEX `aggregateelement_owner_key_creation_datetime_item_hash` ON `aggregate_elements` (`owner`, `key`, `creation_datetime`, `item_hash`);
-- create index "aggregateelement_creation_datetime" to table: "aggregate_elements"
CREATE INDEX `aggregateelement_creation_datetime` ON `aggregate_elements` (`creation_datetime`);
-- create "balances" table
CREATE TABLE `balances` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `address` text NOT NULL, `chain` text NOT NULL, `dapp` text NOT NULL DEFAULT (''), `eth_height` integer NOT NULL, `balance` text NOT NULL DEFAULT ('0'), `last_update` datetime NOT NULL);
-- create index "balance_address_chain_dapp" to table: "balances"
CREATE UNIQUE INDEX `balance_address_chain_dapp` ON `balances` (`address`, `chain`, `dapp`);
-- create "chain_sync_status" table
CREATE TABLE `chain_sync_status` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `chain` text NOT NULL, `type` text NOT NULL, `height` integer NOT NULL, `block_hash` text NOT NULL DEFAULT (''), `last_update` datetime NOT NULL);
-- create index "chainsyncstatus_chain_type" to table: "chain_sync_status"
CREATE UNIQUE INDEX `chainsyncstatus_chain_type` ON `chain_sync_status` (`chain`, `type`);
-- create "chain_txs" table
CREATE TABLE `chain_txs` (`hash` text NOT NULL, `chain` text NOT NULL, `height` integer NOT NULL, `datetime` datetime NOT NULL, `publisher` text NOT NULL, `protocol` text NOT NULL, `protocol_version` integer NOT NULL, `content` json NULL, PRIMARY KEY (`hash`));
-- create index "chaintx_chain_height" to table: "chain_txs"
CREATE INDEX `chaintx_chain_height` ON `chain_txs` (`chain`, `height`);
-- create "credit_balances" table
CREATE TABLE `credit_balances` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `address` text NOT NULL, `credit_ref` text NOT NULL, `credit_index` integer NOT NULL, `amount_remaining` integer NOT NULL, `expiration_date` datetime NULL, `message_timestamp` datetime NOT NULL, `last_update` datetime NOT NULL);
-- create index "creditbalance_address_credit_ref_credit_index" to table: "credit_balances"
CREATE UNIQUE INDEX `creditbalance_address_credit_ref_credit_index` ON `credit_balances` (`address`, `credit_ref`, `credit_index`);
-- create index "creditbalance_address_message_timestamp" to table: "credit_balances"
CREATE INDEX `creditbalance_address_message_timestamp` ON `credit_balances` (`address`, `message_timestamp`);
-- create "credit_history" table
CREATE TABLE `credit_history` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `credit_ref` text NOT NULL, `credit_index` integer NOT NULL, `address` text NOT NULL, `amount` integer NOT NULL, `price` text NULL, `bonus_amount` integer NULL, `tx_hash` text NULL, `token` text NULL, `chain` text NULL, `provider` text NULL, `origin` text NULL, `origin_ref` text NULL, `payment_method` text NULL, `expense_count` integer NULL, `expense_size_mib` integer NULL, `expiration_date` datetime NULL, `message_timestamp` datetime NOT NULL, `last_update` datetime NOT NULL);
-- create index "credithistory_credit_ref_credit_index" to table: "credit_history"
CREATE UNIQUE INDEX `credithistory_credit_ref_credit_index` ON `credit_history` (`credit_ref`, `credit_index`);
-- create index "credithistory_address_message_timestamp_credit_ref_credit_index" to table: "credit_history"
CREATE INDEX `credithistory_address_message_timestamp_credit_ref_credit_index` ON `credit_history` (`address`, `message_timestamp`, `credit_ref`, `credit_index`);
-- create index "credithistory_origin" to table: "credit_history"
CREATE INDEX `credithistory_origin` ON `credit_history` (`origin`);
-- create index "credithistory_payment_method" to table: "credit_history"
CREATE INDEX `credithistory_payment_method` ON `credit_history` (`payment_method`);
-- create index "credithistory_expiration_date" to table: "credit_history"
CREATE INDEX `credithistory_expiration_date` ON `credit_history` (`expiration_date`);
-- create "cron_jobs" table
CREATE TABLE `cron_jobs` (`id` text NOT NULL, `interval_seconds` integer NOT NULL, `last_run` datetime NOT NULL, PRIMARY KEY (`id`));
-- create "error_codes" table
CREATE TABLE `error_codes` (`code` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `name` text NOT NULL, `description` text NOT NULL);
-- create "files" table
CREATE TABLE `files` (`hash` text NOT NULL, `size` integer NOT NULL, `type` text NOT NULL DEFAULT ('file'), `created_at` datetime NOT NULL, PRIMARY KEY (`hash`));
-- create "file_pins" table
CREATE TABLE `file_pins` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `type` text NOT NULL, `created` datetime NOT NULL, `owner` text NULL, `item_hash` text NOT NULL DEFAULT (''), `ref` text NULL, `tx_hash` text NULL, `delete_by` datetime NULL, `file_hash` text NOT NULL, CONSTRAINT `file_pins_files_pins` FOREIGN KEY (`file_hash`) REFERENCES `files` (`hash`) ON DELETE CASCADE);
-- create index "filepin_item_hash_type_file_hash" to table: "file_pins"
CREATE UNIQUE INDEX `filepin_item_hash_type_file_hash` ON `file_pins` (`item_hash`, `type`, `file_hash`);
-- create index "filepin_file_hash" to table: "file_pins"
CREATE INDEX `filepin_file_hash` ON `file_pins` (`file_hash`);
-- create index "filepin_owner" to table: "file_pins"
CREATE INDEX `filepin_owner` ON `file_pins` (`owner`);
-- create index "filepin_ref" to table: "file_pins"
CREATE INDEX `filepin_ref` ON `file_pins` (`ref`);
-- create index "filepin_delete_by" to table: "file_pins"
CREATE INDEX `filepin_delete_by` ON `file_pins` (`delete_by`);
-- create "file_tags" table
CREATE TABLE `file_tags` (`tag` text NOT NULL, `owner` text NOT NULL, `item_hash` text NOT NULL DEFAULT (''), `last_updated` datetime NOT NULL, `file_hash` text NOT NULL, PRIMARY KEY (`tag`), CONSTRAINT `file_tags_files_tags` FOREIGN KEY (`file_hash`) REFERENCES `files` (`hash`) ON DELETE CASCADE);
-- create index "filetag_file_hash" to table: "file_tags"
CREATE INDEX `filetag_file_hash` ON `file_tags` (`file_hash`);
-- create index "filetag_owner" to table: "file_tags"
CREATE INDEX `filetag_owner` ON `file_tags` (`owner`);
-- create "forgotten_messages" table
CREATE TABLE `forgotten_messages` (`item_hash` text NOT NULL, `type` text NOT NULL, `chain` text NOT NULL, `sender` text NOT NULL, `signature` text NULL, `item_type` text NOT NULL, `time` datetime NOT NULL, `channel` text NULL, `owner` text NOT NULL, `payment_type` text NULL, `size` integer NOT NULL DEFAULT (0), `forgotten_by` json NOT NULL, `forgotten_at` datetime NOT NULL, PRIMARY KEY (`item_hash`));
-- create index "forgottenmessage_sender" to table: "forgotten_messages"
CREATE INDEX `forgottenmessage_sender` ON `forgotten_messages` (`sender`);
-- create index "forgottenmessage_time" to table: "forgotten_messages"
CREATE INDEX `forgottenmessage_time` ON `forgotten_messages` (`time`);
-- create index "forgottenmessage_channel" to table: "forgotten_messages"
CREATE INDEX `forgottenmessage_channel` ON `forgotten_messages` (`channel`);
-- create index "forgottenmessage_owner_forgotten_at" to table: "forgotten_messages"
CREATE INDEX `forgottenmessage_owner_forgotten_at` ON `forgotten_messages` (`owner`, `forgotten_at`);
-- create index "forgottenmessage_forgotten_at" to table: "forgotten_messages"
CREATE INDEX `forgottenmessage_forgotten_at` ON `forgotten_messages` (`forgotten_at`);
-- create "indexed_blocks" table
CREATE TABLE `indexed_blocks` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `chain` text NOT NULL, `number` integer NOT NULL, `hash` text NOT NULL, `parent_hash` text NOT NULL, `time` datetime NOT NULL);
-- create index "indexedblock_chain_number" to table: "indexed_blocks"
CREATE UNIQUE INDEX `indexedblock_chain_number` ON `indexed_blocks` (`chain`, `number`);
-- create "indexer_sync_ranges" table
CREATE TABLE `indexer_sync_ranges` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `chain` text NOT NULL, `event_type` text NOT NULL, `start_block_datetime` datetime NOT NULL, `end_block_datetime` datetime NOT NULL, `start_included` bool NOT NULL, `end_included` bool NOT NULL, `last_updated` datetime NOT NULL);
-- create index "indexersyncrange_chain_event_type_start_block_datetime" to table: "indexer_sync_ranges"
CREATE UNIQUE INDEX `indexersyncrange_chain_event_type_start_block_datetime` ON `indexer_sync_ranges` (`chain`, `event_type`, `start_block_datetime`);
-- create "messages" table
CREATE TABLE `messages` (`item_hash` text NOT NULL, `type` text NOT NULL, `chain` text NOT NULL, `sender` text NOT NULL, `signature` text NULL, `item_type` text NOT NULL, `item_content` text NULL, `content` json NULL, `time` datetime NOT NULL, `channel` text NULL, `size` integer NOT NULL DEFAULT (0), `status` text NOT NULL DEFAULT ('processed'), `reception_time` datetime NOT NULL, `owner` text NOT NULL, `content_type` text NULL, `content_ref` text NULL, `content_key` text NULL, `content_item_hash` text NULL, `first_confirmed_at` datetime NULL, `first_confirmed_height` integer NULL, `payment_type` text NULL, `tags` json NULL, PRIMARY KEY (`item_hash`));
-- create index "message_time_item_hash" to table: "messages"
CREATE INDEX `message_time_item_hash` ON `messages` (`time`, `item_hash`);
-- create index "message_channel_time_item_hash" to table: "messages"
CREATE INDEX `message_channel_time_item_hash` ON `messages` (`channel`, `time`, `item_hash`);
-- create index "message_sender_time_item_hash" to table: "messages"
CREATE INDEX `message_sender_time_item_hash` ON `messages` (`sender`, `time`, `item_hash`);
-- create index "message_owner_time_item_hash" to table: "messages"
CREATE INDEX `message_owner_time_item_hash` ON `messages` (`owner`, `time`, `item_hash`);
-- create index "message_type_time_item_hash" to table: "messages"
CREATE INDEX `message_type_time_item_hash` ON `messages` (`type`, `time`, `item_hash`);
-- create index "message_chain_time_item_hash" to table: "messages"
CREATE INDEX `message_chain_time_item_hash` ON `messages` (`chain`, `time`, `item_hash`);
-- create index "message_content_type_time_item_hash" to table: "messages"
CREATE INDEX `message_content_type_time_item_hash` ON `messages` (`content_type`, `time`, `item_hash`);
-- create index "message_content_ref" to table: "messages"
CREATE INDEX `message_content_ref` ON `messages` (`content_ref`);
-- create index "message_content_key_owner" to table: "messages"
CREATE INDEX `message_content_key_owner` ON `messages` (`content_key`, `owner`);
-- create index "message_content_item_hash" to table: "messages"
CREATE INDEX `message_content_item_hash` ON `messages` (`content_item_hash`);
-- create index "message_payment_type" to table: "messages"
CREATE INDEX `message_payment_type` ON `messages` (`payment_type`);
-- create index "ix_messages_status" to table: "messages"
CREATE INDEX `ix_messages_status` ON `messages` (`status`);
-- create index "message_reception_time" to table: "messages"
CREATE INDEX `message_reception_time` ON `messages` (`reception_time`);
-- create index "message_first_confirmed_at_time_item_hash" to table: "messages"
CREATE INDEX `message_first_confirmed_at_time_item_hash` ON `messages` (`first_confirmed_at`, `time`, `item_hash`);
-- create "message_confirmations" table
CREATE TABLE `message_confirmations` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `tx_hash` text NOT NULL, `item_hash` text NOT NULL, CONSTRAINT `message_confirmations_chain_txs_confirmations` FOREIGN KEY (`tx_hash`) REFERENCES `chain_txs` (`hash`) ON DELETE CASCADE, CONSTRAINT `message_confirmations_messages_confirmations` FOREIGN KEY (`item_hash`) REFERENCES `messages` (`item_hash`) ON DELETE CASCADE);
-- create index "messageconfirmation_item_hash_tx_hash" to table: "message_confirmations"
CREATE UNIQUE INDEX `messageconfirmation_item_hash_tx_hash` ON `message_confirmations` (`item_hash`, `tx_hash`);
-- create index "messageconfirmation_tx_hash" to table: "message_confirmations"
CREATE INDEX `messageconfirmation_tx_hash` ON `message_confirmations` (`tx_hash`);
-- create "message_counters" table
CREATE TABLE `message_counters` (`key` text NOT NULL, `count` integer NOT NULL DEFAULT (0), PRIMARY KEY (`key`));
-- create "message_status" table
CREATE TABLE `message_status` (`item_hash` text NOT NULL, `status` text NOT NULL, `reception_time` datetime NOT NULL, `updated_at` datetime NOT NULL, PRIMARY KEY (`item_hash`));
-- create index "messagestatus_status_updated_at" to table: "message_status"
CREATE INDEX `messagestatus_status_updated_at` ON `message_status` (`status`, `updated_at`);
-- create "message_tags" table
CREATE TABLE `message_tags` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `tag` text NOT NULL, `time` datetime NOT NULL, `item_hash` text NOT NULL, CONSTRAINT `message_tags_messages_tag_rows` FOREIGN KEY (`item_hash`) REFERENCES `messages` (`item_hash`) ON DELETE CASCADE);
-- create index "messagetag_item_hash_tag" to table: "message_tags"
CREATE UNIQUE INDEX `messagetag_item_hash_tag` ON `message_tags` (`item_hash`, `tag`);
-- create index "messagetag_tag_time_item_hash" to table: "message_tags"
CREATE INDEX `messagetag_tag_time_item_hash` ON `message_tags` (`tag`, `time`, `item_hash`);
-- create "node_metrics" table
CREATE TABLE `node_metrics` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `item_hash` text NOT NULL, `node_type` text NOT NULL, `node_id` text NOT NULL, `measured_at` datetime NOT NULL, `data` json NOT NULL);
-- create index "nodemetric_node_type_node_id_measured_at" to table: "node_metrics"
CREATE INDEX `nodemetric_node_type_node_id_measured_at` ON `node_metrics` (`node_type`, `node_id`, `measured_at`);
-- create index "nodemetric_item_hash" to table: "node_metrics"
CREATE INDEX `nodemetric_item_hash` ON `node_metrics` (`item_hash`);
-- create "peers" table
CREATE TABLE `peers` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `peer_id` text NOT NULL, `peer_type` text NOT NULL, `address` text NOT NULL, `source` text NOT NULL, `last_seen` datetime NOT NULL);
-- create index "peer_peer_id_peer_type" to table: "peers"
CREATE UNIQUE INDEX `peer_peer_id_peer_type` ON `peers` (`peer_id`, `peer_type`);
-- create index "peer_last_seen" to table: "peers"
CREATE INDEX `peer_last_seen` ON `peers` (`last_seen`);
-- create "pending_messages" table
CREATE TABLE `pending_messages` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `item_hash` text NOT NULL, `type` text NOT NULL, `chain` text NOT NULL, `sender` text NOT NULL, `signature` text NOT NULL DEFAULT (''), `item_type` text NOT NULL, `item_content` text NULL, `content` json NULL, `time` datetime NOT NULL, `channel` text NULL, `reception_time` datetime NOT NULL, `check_message` bool NOT NULL DEFAULT (true), `next_attempt` datetime NOT NULL, `retries` integer NOT NULL DEFAULT (0), `fetched` bool NOT NULL DEFAULT (false), `origin` text NOT NULL, `last_error_code` integer NULL, `last_error` text NULL, `claimed_by` text NULL, `claimed_until` datetime NULL, `tx_hash` text NULL, CONSTRAINT `pending_messages_chain_txs_tx` FOREIGN KEY (`tx_hash`) REFERENCES `chain_txs` (`hash`) ON DELETE SET NULL);
-- create index "pendingmessage_sender_item_hash_signature" to table: "pending_messages"
CREATE UNIQUE INDEX `pendingmessage_sender_item_hash_signature` ON `pending_messages` (`sender`, `item_hash`, `signature`);
-- create index "pendingmessage_fetched_next_attempt" to table: "pending_messages"
CREATE INDEX `pendingmessage_fetched_next_attempt` ON `pending_messages` (`fetched`, `next_attempt`);
-- create index "pendingmessage_item_hash" to table: "pending_messages"
CREATE INDEX `pendingmessage_item_hash` ON `pending_messages` (`item_hash`);
-- create index "pendingmessage_time" to table: "pending_messages"
CREATE INDEX `pendingmessage_time` ON `pending_messages` (`time`);
-- create "pending_txs" table
CREATE TABLE `pending_txs` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `next_attempt` datetime NOT NULL, `retries` integer NOT NULL DEFAULT (0), `tx_hash` text NOT NULL, CONSTRAINT `pending_txs_chain_txs_pending` FOREIGN KEY (`tx_hash`) REFERENCES `chain_txs` (`hash`) ON DELETE CASCADE);
-- create index "pendingtx_tx_hash" to table: "pending_txs"
CREATE UNIQUE INDEX `pendingtx_tx_hash` ON `pending_txs` (`tx_hash`);
-- create index "pendingtx_next_attempt" to table: "pending_txs"
CREATE INDEX `pendingtx_next_attempt` ON `pending_txs` (`next_attempt`);
-- create "posts" table
CREATE TABLE `posts` (`item_hash` text NOT NULL, `owner` text NOT NULL, `type` text NOT NULL, `ref` text NULL, `channel` text NULL, `content` json NULL, `creation_datetime` datetime NOT NULL, `latest_amend` text NULL, `tags` json NULL, `amends` text NULL, PRIMARY KEY (`item_hash`), CONSTRAINT `posts_posts_amendments` FOREIGN KEY (`amends`) REFERENCES `posts` (`item_hash`) ON DELETE SET NULL);
-- create index "post_owner_creation_datetime" to table: "posts"
CREATE INDEX `post_owner_creation_datetime` ON `posts` (`owner`, `creation_datetime`);
-- create index "post_type_creation_datetime" to table: "posts"
CREATE INDEX `post_type_creation_datetime` ON `posts` (`type`, `creation_datetime`);
-- create index "post_channel_creation_datetime" to table: "posts"
CREATE INDEX `post_channel_creation_datetime` ON `posts` (`channel`, `creation_datetime`);
-- create index "post_amends_creation_datetime" to table: "posts"
CREATE INDEX `post_amends_creation_datetime` ON `posts` (`amends`, `creation_datetime`);
-- create index "post_creation_datetime_item_hash" to table: "posts"
CREATE INDEX `post_creation_datetime_item_hash` ON `posts` (`creation_datetime`, `item_hash`);
-- create "rejected_messages" table
CREATE TABLE `rejected_messages` (`item_hash` text NOT NULL, `message` json NOT NULL, `error_code` integer NOT NULL, `details` json NULL, `traceback` text NULL, `tx_hash` text NULL, `rejected_at` datetime NOT NULL, PRIMARY KEY (`item_hash`));
-- create index "rejectedmessage_error_code" to table: "rejected_messages"
CREATE INDEX `rejectedmessage_error_code` ON `rejected_messages` (`error_code`);
-- create index "rejectedmessage_rejected_at" to table: "rejected_messages"
CREATE INDEX `rejectedmessage_rejected_at` ON `rejected_messages` (`rejected_at`);
-- create "removed_messages" table
CREATE TABLE `removed_messages` (`item_hash` text NOT NULL, `type` text NOT NULL, `chain` text NOT NULL, `sender` text NOT NULL, `signature` text NULL, `item_type` text NOT NULL, `time` datetime NOT NULL, `channel` text NULL, `owner` text NOT NULL, `payment_type` text NULL, `size` integer NOT NULL DEFAULT (0), `removed_at` datetime NULL, PRIMARY KEY (`item_hash`));
-- create index "removedmessage_owner_removed_at" to table: "removed_messages"
CREATE INDEX `removedmessage_owner_removed_at` ON `removed_messages` (`owner`, `removed_at`);
-- create index "removedmessage_removed_at" to table: "removed_messages"
CREATE INDEX `removedmessage_removed_at` ON `removed_messages` (`removed_at`);
-- create "vms" table
CREATE TABLE `vms` (`item_hash` text NOT NULL, `type` text NOT NULL, `owner` text NOT NULL, `allow_amend` bool NOT NULL DEFAULT (false), `replaces` text NULL, `metadata` json NULL, `variables` json NULL, `authorized_keys` json NULL, `environment` json NULL, `hypervisor` text NULL, `trusted_execution_policy` integer NULL, `trusted_execution_firmware` text NULL, `payment_type` text NOT NULL DEFAULT ('hold'), `payment_chain` text NULL, `payment_receiver` text NULL, `resources_vcpus` integer NOT NULL DEFAULT (1), `resources_memory` integer NOT NULL DEFAULT (128), `resources_seconds` integer NOT NULL DEFAULT (1), `published_ports` json NULL, `requirements` json NULL, `node_hash` text NULL, `program_type` text NULL, `http_trigger` bool NOT NULL DEFAULT (false), `persistent` bool NOT NULL DEFAULT (false), `message_triggers` json NULL, `created` datetime NOT NULL, PRIMARY KEY (`item_hash`));
-- create index "vm_owner_created" to table: "vms"
CREATE INDEX `vm_owner_created` ON `vms` (`owner`, `created`);
-- create index "vm_replaces" to table: "vms"
CREATE INDEX `vm_replaces` ON `vms` (`replaces`);
-- create index "vm_node_hash" to table: "vms"
CREATE INDEX `vm_node_hash` ON `vms` (`node_hash`);
-- create index "vm_type_created" to table: "vms"
CREATE INDEX `vm_type_created` ON `vms` (`type`, `created`);
-- create "vm_versions" table
CREATE TABLE `vm_versions` (`vm_hash` text NOT NULL, `owner` text NOT NULL, `current_version` text NOT NULL, `last_updated` datetime NOT NULL, PRIMARY KEY (`vm_hash`));
-- create index "vmversion_owner" to table: "vm_versions"
CREATE INDEX `vmversion_owner` ON `vm_versions` (`owner`);
-- create index "vmversion_current_version" to table: "vm_versions"
CREATE INDEX `vmversion_current_version` ON `vm_versions` (`current_version`);
-- create "vm_volumes" table
CREATE TABLE `vm_volumes` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `kind` text NOT NULL, `position` integer NOT NULL DEFAULT (0), `ref` text NULL, `use_latest` bool NOT NULL DEFAULT (false), `mount` text NULL, `comment` text NULL, `name` text NULL, `size_mib` integer NULL, `persistence` text NULL, `encoding` text NULL, `entrypoint` text NULL, `interface` text NULL, `args` json NULL, `hash_tree` text NULL, `roothash` text NULL, `vm_hash` text NOT NULL, CONSTRAINT `vm_volumes_vms_volumes` FOREIGN KEY (`vm_hash`) REFERENCES `vms` (`item_hash`) ON DELETE CASCADE);
-- create index "vmvolume_vm_hash_kind_position" to table: "vm_volumes"
CREATE UNIQUE INDEX `vmvolume_vm_hash_kind_position` ON `vm_volumes` (`vm_hash`, `kind`, `position`);
-- create index "vmvolume_ref" to table: "vm_volumes"
CREATE INDEX `vmvolume_ref` ON `vm_volumes` (`ref`);

-- +goose Down
-- reverse: create index "vmvolume_ref" to table: "vm_volumes"
DROP INDEX `vmvolume_ref`;
-- reverse: create index "vmvolume_vm_hash_kind_position" to table: "vm_volumes"
DROP INDEX `vmvolume_vm_hash_kind_position`;
-- reverse: create "vm_volumes" table
DROP TABLE `vm_volumes`;
-- reverse: create index "vmversion_current_version" to table: "vm_versions"
DROP INDEX `vmversion_current_version`;
-- reverse: create index "vmversion_owner" to table: "vm_versions"
DROP INDEX `vmversion_owner`;
-- reverse: create "vm_versions" table
DROP TABLE `vm_versions`;
-- reverse: create index "vm_type_created" to table: "vms"
DROP INDEX `vm_type_created`;
-- reverse: create index "vm_node_hash" to table: "vms"
DROP INDEX `vm_node_hash`;
-- reverse: create index "vm_replaces" to table: "vms"
DROP INDEX `vm_replaces`;
-- reverse: create index "vm_owner_created" to table: "vms"
DROP INDEX `vm_owner_created`;
-- reverse: create "vms" table
DROP TABLE `vms`;
-- reverse: create index "removedmessage_removed_at" to table: "removed_messages"
DROP INDEX `removedmessage_removed_at`;
-- reverse: create index "removedmessage_owner_removed_at" to table: "removed_messages"
DROP INDEX `removedmessage_owner_removed_at`;
-- reverse: create "removed_messages" table
DROP TABLE `removed_messages`;
-- reverse: create index "rejectedmessage_rejected_at" to table: "rejected_messages"
DROP INDEX `rejectedmessage_rejected_at`;
-- reverse: create index "rejectedmessage_error_code" to table: "rejected_messages"
DROP INDEX `rejectedmessage_error_code`;
-- reverse: create "rejected_messages" table
DROP TABLE `rejected_messages`;
-- reverse: create index "post_creation_datetime_item_hash" to table: "posts"
DROP INDEX `post_creation_datetime_item_hash`;
-- reverse: create index "post_amends_creation_datetime" to table: "posts"
DROP INDEX `post_amends_creation_datetime`;
-- reverse: create index "post_channel_creation_datetime" to table: "posts"
DROP INDEX `post_channel_creation_datetime`;
-- reverse: create index "post_type_creation_datetime" to table: "posts"
DROP INDEX `post_type_creation_datetime`;
-- reverse: create index "post_owner_creation_datetime" to table: "posts"
DROP INDEX `post_owner_creation_datetime`;
-- reverse: create "posts" table
DROP TABLE `posts`;
-- reverse: create index "pendingtx_next_attempt" to table: "pending_txs"
DROP INDEX `pendingtx_next_attempt`;
-- reverse: create index "pendingtx_tx_hash" to table: "pending_txs"
DROP INDEX `pendingtx_tx_hash`;
-- reverse: create "pending_txs" table
DROP TABLE `pending_txs`;
-- reverse: create index "pendingmessage_time" to table: "pending_messages"
DROP INDEX `pendingmessage_time`;
-- reverse: create index "pendingmessage_item_hash" to table: "pending_messages"
DROP INDEX `pendingmessage_item_hash`;
-- reverse: create index "pendingmessage_fetched_next_attempt" to table: "pending_messages"
DROP INDEX `pendingmessage_fetched_next_attempt`;
-- reverse: create index "pendingmessage_sender_item_hash_signature" to table: "pending_messages"
DROP INDEX `pendingmessage_sender_item_hash_signature`;
-- reverse: create "pending_messages" table
DROP TABLE `pending_messages`;
-- reverse: create index "peer_last_seen" to table: "peers"
DROP INDEX `peer_last_seen`;
-- reverse: create index "peer_peer_id_peer_type" to table: "peers"
DROP INDEX `peer_peer_id_peer_type`;
-- reverse: create "peers" table
DROP TABLE `peers`;
-- reverse: create index "nodemetric_item_hash" to table: "node_metrics"
DROP INDEX `nodemetric_item_hash`;
-- reverse: create index "nodemetric_node_type_node_id_measured_at" to table: "node_metrics"
DROP INDEX `nodemetric_node_type_node_id_measured_at`;
-- reverse: create "node_metrics" table
DROP TABLE `node_metrics`;
-- reverse: create index "messagetag_tag_time_item_hash" to table: "message_tags"
DROP INDEX `messagetag_tag_time_item_hash`;
-- reverse: create index "messagetag_item_hash_tag" to table: "message_tags"
DROP INDEX `messagetag_item_hash_tag`;
-- reverse: create "message_tags" table
DROP TABLE `message_tags`;
-- reverse: create index "messagestatus_status_updated_at" to table: "message_status"
DROP INDEX `messagestatus_status_updated_at`;
-- reverse: create "message_status" table
DROP TABLE `message_status`;
-- reverse: create "message_counters" table
DROP TABLE `message_counters`;
-- reverse: create index "messageconfirmation_tx_hash" to table: "message_confirmations"
DROP INDEX `messageconfirmation_tx_hash`;
-- reverse: create index "messageconfirmation_item_hash_tx_hash" to table: "message_confirmations"
DROP INDEX `messageconfirmation_item_hash_tx_hash`;
-- reverse: create "message_confirmations" table
DROP TABLE `message_confirmations`;
-- reverse: create index "message_first_confirmed_at_time_item_hash" to table: "messages"
DROP INDEX `message_first_confirmed_at_time_item_hash`;
-- reverse: create index "message_reception_time" to table: "messages"
DROP INDEX `message_reception_time`;
-- reverse: create index "ix_messages_status" to table: "messages"
DROP INDEX `ix_messages_status`;
-- reverse: create index "message_payment_type" to table: "messages"
DROP INDEX `message_payment_type`;
-- reverse: create index "message_content_item_hash" to table: "messages"
DROP INDEX `message_content_item_hash`;
-- reverse: create index "message_content_key_owner" to table: "messages"
DROP INDEX `message_content_key_owner`;
-- reverse: create index "message_content_ref" to table: "messages"
DROP INDEX `message_content_ref`;
-- reverse: create index "message_content_type_time_item_hash" to table: "messages"
DROP INDEX `message_content_type_time_item_hash`;
-- reverse: create index "message_chain_time_item_hash" to table: "messages"
DROP INDEX `message_chain_time_item_hash`;
-- reverse: create index "message_type_time_item_hash" to table: "messages"
DROP INDEX `message_type_time_item_hash`;
-- reverse: create index "message_owner_time_item_hash" to table: "messages"
DROP INDEX `message_owner_time_item_hash`;
-- reverse: create index "message_sender_time_item_hash" to table: "messages"
DROP INDEX `message_sender_time_item_hash`;
-- reverse: create index "message_channel_time_item_hash" to table: "messages"
DROP INDEX `message_channel_time_item_hash`;
-- reverse: create index "message_time_item_hash" to table: "messages"
DROP INDEX `message_time_item_hash`;
-- reverse: create "messages" table
DROP TABLE `messages`;
-- reverse: create index "indexersyncrange_chain_event_type_start_block_datetime" to table: "indexer_sync_ranges"
DROP INDEX `indexersyncrange_chain_event_type_start_block_datetime`;
-- reverse: create "indexer_sync_ranges" table
DROP TABLE `indexer_sync_ranges`;
-- reverse: create index "indexedblock_chain_number" to table: "indexed_blocks"
DROP INDEX `indexedblock_chain_number`;
-- reverse: create "indexed_blocks" table
DROP TABLE `indexed_blocks`;
-- reverse: create index "forgottenmessage_forgotten_at" to table: "forgotten_messages"
DROP INDEX `forgottenmessage_forgotten_at`;
-- reverse: create index "forgottenmessage_owner_forgotten_at" to table: "forgotten_messages"
DROP INDEX `forgottenmessage_owner_forgotten_at`;
-- reverse: create index "forgottenmessage_channel" to table: "forgotten_messages"
DROP INDEX `forgottenmessage_channel`;
-- reverse: create index "forgottenmessage_time" to table: "forgotten_messages"
DROP INDEX `forgottenmessage_time`;
-- reverse: create index "forgottenmessage_sender" to table: "forgotten_messages"
DROP INDEX `forgottenmessage_sender`;
-- reverse: create "forgotten_messages" table
DROP TABLE `forgotten_messages`;
-- reverse: create index "filetag_owner" to table: "file_tags"
DROP INDEX `filetag_owner`;
-- reverse: create index "filetag_file_hash" to table: "file_tags"
DROP INDEX `filetag_file_hash`;
-- reverse: create "file_tags" table
DROP TABLE `file_tags`;
-- reverse: create index "filepin_delete_by" to table: "file_pins"
DROP INDEX `filepin_delete_by`;
-- reverse: create index "filepin_ref" to table: "file_pins"
DROP INDEX `filepin_ref`;
-- reverse: create index "filepin_owner" to table: "file_pins"
DROP INDEX `filepin_owner`;
-- reverse: create index "filepin_file_hash" to table: "file_pins"
DROP INDEX `filepin_file_hash`;
-- reverse: create index "filepin_item_hash_type_file_hash" to table: "file_pins"
DROP INDEX `filepin_item_hash_type_file_hash`;
-- reverse: create "file_pins" table
DROP TABLE `file_pins`;
-- reverse: create "files" table
DROP TABLE `files`;
-- reverse: create "error_codes" table
DROP TABLE `error_codes`;
-- reverse: create "cron_jobs" table
DROP TABLE `cron_jobs`;
-- reverse: create index "credithistory_expiration_date" to table: "credit_history"
DROP INDEX `credithistory_expiration_date`;
-- reverse: create index "credithistory_payment_method" to table: "credit_history"
DROP INDEX `credithistory_payment_method`;
-- reverse: create index "credithistory_origin" to table: "credit_history"
DROP INDEX `credithistory_origin`;
-- reverse: create index "credithistory_address_message_timestamp_credit_ref_credit_index" to table: "credit_history"
DROP INDEX `credithistory_address_message_timestamp_credit_ref_credit_index`;
-- reverse: create index "credithistory_credit_ref_credit_index" to table: "credit_history"
DROP INDEX `credithistory_credit_ref_credit_index`;
-- reverse: create "credit_history" table
DROP TABLE `credit_history`;
-- reverse: create index "creditbalance_address_message_timestamp" to table: "credit_balances"
DROP INDEX `creditbalance_address_message_timestamp`;
-- reverse: create index "creditbalance_address_credit_ref_credit_index" to table: "credit_balances"
DROP INDEX `creditbalance_address_credit_ref_credit_index`;
-- reverse: create "credit_balances" table
DROP TABLE `credit_balances`;
-- reverse: create index "chaintx_chain_height" to table: "chain_txs"
DROP INDEX `chaintx_chain_height`;
-- reverse: create "chain_txs" table
DROP TABLE `chain_txs`;
-- reverse: create index "chainsyncstatus_chain_type" to table: "chain_sync_status"
DROP INDEX `chainsyncstatus_chain_type`;
-- reverse: create "chain_sync_status" table
DROP TABLE `chain_sync_status`;
-- reverse: create index "balance_address_chain_dapp" to table: "balances"
DROP INDEX `balance_address_chain_dapp`;
-- reverse: create "balances" table
DROP TABLE `balances`;
-- reverse: create index "aggregateelement_creation_datetime" to table: "aggregate_elements"
DROP INDEX `aggregateelement_creation_datetime`;
-- reverse: create index "aggregateelement_owner_key_creation_datetime_item_hash" to table: "aggregate_elements"
DROP INDEX `aggregateelement_owner_key_creation_datetime_item_hash`;
-- reverse: create "aggregate_elements" table
DROP TABLE `aggregate_elements`;
-- reverse: create index "aggregate_key" to table: "aggregates"
DROP INDEX `aggregate_key`;
-- reverse: create index "aggregate_owner_key" to table: "aggregates"
DROP INDEX `aggregate_owner_key`;
-- reverse: create "aggregates" table
DROP TABLE `aggregates`;
-- reverse: create index "accountcost_owner_payment_type" to table: "account_costs"
DROP INDEX `accountcost_owner_payment_type`;
-- reverse: create index "accountcost_item_hash" to table: "account_costs"
DROP INDEX `accountcost_item_hash`;
-- reverse: create index "accountcost_owner_item_hash_type_name" to table: "account_costs"
DROP INDEX `accountcost_owner_item_hash_type_name`;
-- reverse: create "account_costs" table
DROP TABLE `account_costs`;
