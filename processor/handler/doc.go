// Package handler holds the per-type message handlers of the processing
// pipeline (POST, AGGREGATE, FORGET here; STORE, PROGRAM and INSTANCE next
// to them) and the contract they share with the pipeline in package
// processor.
//
// A Handler is called by the pipeline in a fixed order for every message:
// FetchRelated in the fetch stage (outside any transaction), then, inside
// the batch transaction of the process stage, CheckDependencies,
// CheckPermissions, CheckBalance and Process. Every failure is an
// *errcode.Error whose Kind tells the pipeline whether to reject the
// message or retry it later (MissingDependency and Transient kinds retry).
// Forget undoes a message's effects when a FORGET targets it.
//
// Handlers own no goroutines and keep no state between calls besides their
// Deps: all state lives in the database, so several processors may share
// one database.
package handler
