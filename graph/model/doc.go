// Package model holds the GraphQL types gqlgen generates that are not
// bound to ent types. Files in it are generated; do not edit them.
package model
