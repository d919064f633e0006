package model

// Node is the Go side of the GraphQL Node interface: any object with a
// global id. The concrete types (ent entities and graph's Account and
// Channel) are listed in the schema; gqlgen dispatches on them.
type Node interface{}
