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
// Signed uploads carry a multipart "metadata" field, JSON
// {"message": <inline STORE message>, "sync": bool}, sent before the file
// (a file sent before its metadata keeps the unauthenticated limit). The
// message must verify (403 otherwise) and be a valid inline STORE message
// whose content.item_type is the route's engine, whose content.item_hash is
// the uploaded file's hash and whose content.size, if set, is its size (422
// with {"status": "error", "error": reason} otherwise). Such uploads may
// reach 100 MiB (storage) or 1 GiB (ipfs). The message is then submitted
// through the Submitter; the answer is the usual body with the status of
// the reference node's message_status_to_http_status: 202 while pending
// (always without sync), 200 once processed, 422 if rejected; with
// "sync": true the route waits up to Config.SyncTimeout (30 s) for the
// message to leave pending. Unlike the reference node, a signed upload also
// gets the grace-period pin, so the file of a message rejected later is
// collected rather than kept forever without a pin; the balance check
// (402) is left to message processing. Routes without a Submitter answer
// 501 to signed uploads. CAR uploads (ipfs/add_car) are not served.
//
// The package reaches the content service and the database through the
// small interfaces Content and Files, wired in cmd.
package storage
