package schema

import "entgo.io/ent/dialect"

// decimalType stores exact decimal amounts (held as strings in Go) as NUMERIC
// on PostgreSQL and as text on SQLite.
var decimalType = map[string]string{dialect.Postgres: "numeric", dialect.SQLite: "text"}

// jsonType stores raw JSON documents as jsonb on PostgreSQL and as text on
// SQLite.
var jsonType = map[string]string{dialect.Postgres: "jsonb", dialect.SQLite: "json"}

// hashMaxLen bounds item hashes and content hashes: a 64-character sha256
// hex digest or an IPFS CID (59 characters for CIDv1 base32).
const hashMaxLen = 128
