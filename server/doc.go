// Package server is alephql's HTTP server: it mounts the GraphQL API and
// GraphiQL, the operational endpoints (/healthz, /readyz, /metrics), request
// logging and metrics, and shuts down gracefully when its context ends.
package server
