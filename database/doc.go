// Package database opens alephql's storage, SQLite (the embedded default) or
// PostgreSQL, applies the versioned migrations and reports readiness. It
// owns the choice of driver and connection settings, and nothing else: what
// is stored is the ent schema's business.
package database
