// Package storage serves pyaleph's storage and upload HTTP routes:
//
//	GET|HEAD /api/v0/storage/raw/{hash}   the bytes, streamed, with Content-Length
//	GET      /api/v0/storage/{hash}       {"status","hash","engine","content": base64}
//	POST     /api/v0/storage/add_json     canonical JSON, sha256 → {"status","hash"}
//	POST     /api/v0/ipfs/add_json        canonical JSON, CIDv0 → {"status","hash"}
//	POST     /api/v0/storage/add_file     multipart "file" or raw body → {"status","hash"}
//	POST     /api/v0/ipfs/add_file        multipart "file" → {"status","hash","name","size"}
//
// Only files the database knows (a files row) are served, as the reference
// node does. Unauthenticated uploads are limited to 25 MiB and recorded as
// a files row plus a grace-period pin (24 h), after which the garbage
// collector removes them unless a STORE message pinned them meanwhile.
//
// Not yet: uploads carrying a signed STORE message (multipart "metadata"),
// which need the message pipeline to verify and submit the message; they
// are refused with 501 for now. CAR uploads (ipfs/add_car) are not served.
//
// The package reaches the content service and the database through the
// small interfaces Content and Files, wired in cmd.
package storage
