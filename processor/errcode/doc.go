// Package errcode holds the Aleph protocol's message error codes and the
// error type that carries them through the processing pipeline.
//
// Every code is defined once, in the table of codes.go, with its protocol
// name, its stable number (the value stored in rejected_messages.error_code
// and served by the API) and its Kind, which tells the pipeline whether to
// reject the message, retry it with back-off, or wait for a dependency.
// The database seeds its error_codes table from All.
//
// The package is a leaf: it imports no other package of the project.
package errcode
