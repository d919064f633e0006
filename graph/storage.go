package graph

// rawStoragePath is the route that serves a file's bytes (package
// rest/storage, mounted by cmd); File.downloadUrl points at it.
const rawStoragePath = "/api/v0/storage/raw/"
