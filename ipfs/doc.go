// Package ipfs is the node's content service: the bytes behind storage and
// ipfs message content, STORE files and API uploads.
//
// Content is named by one of two kinds of hash (see [ParseHash]):
//
//   - a "storage" hash, the lowercase hex sha256 of the raw bytes, kept in a
//     local content store (one file per hash under the data directory) and
//     fetched from peers' /api/v0/storage/{hash} endpoints when missing;
//   - a CID (v0 "Qm…" or v1 "bafy…"), kept in kubo, the IPFS daemon, reached
//     through its RPC API, with small files also cached in the local store.
//
// Every byte received from a peer is verified against its hash before it is
// returned or stored: sha256 for storage hashes, and for CIDs a re-hash by
// kubo with the CID's own version. kubo is optional (the embedded default
// runs without it): storage content and uploads then keep working from the
// local store, and CID fetches fail with [ErrUnavailable], which callers
// treat as "retry later".
//
// The package is a leaf: it imports nothing of the project.
package ipfs
