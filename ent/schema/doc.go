// Package schema holds the ent schema of alephql's whole data model: the
// message log and its lifecycle tables, the state messages produce (posts,
// aggregates, files, VMs, balances, credits, costs) and the bookkeeping of
// sources (chain transactions, sync cursors, peers).
//
// Conventions, chosen so that one schema serves SQLite and PostgreSQL:
//   - Natural keys are the primary key where the protocol has one (item
//     hashes, file hashes, tags); the ent field is "id" and the column keeps
//     the protocol's name through StorageKey.
//   - Times are UTC time.Time. The writer converts to UTC before storing so
//     that SQLite's text timestamps order the same way as PostgreSQL's.
//   - Decimal amounts (balances, prices, costs) are strings holding exact
//     decimal numbers, stored as NUMERIC on PostgreSQL; arithmetic is done in
//     Go with exact decimals, never with floats.
//   - Lists (tags, forgotten_by) are JSON arrays. Filterable lists get a side
//     table (message_tags) so that both back-ends index them the same way.
//   - Absent optional strings that take part in a unique key are stored as ""
//     rather than NULL, because NULLs never collide in unique indexes.
package schema
