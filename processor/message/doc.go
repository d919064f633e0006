// Package message is the Aleph message model: it turns a message as sent
// on the wire into a validated form, following the reference node
// (pyaleph) and its message library (aleph-message) rule for rule.
//
// Parse validates the wire fields (chain, type, item hash and type, inline
// hash and size, time, signature presence); ParseContent validates content
// bytes, inline or fetched, against the schema of the message type; Decode
// does both for inline messages. Verify checks the signature with package
// chains. Every failure is an *errcode.Error naming the offending field.
//
// JSON is read by the package's own strict reader (json.go), which accepts
// exactly what the reference node's orjson accepts, and the content schemas
// coerce values as pydantic's lax mode does (validate.go): a message is
// valid here exactly when it is valid on the reference node.
//
// The content is never re-serialised: the item hash covers the exact
// item_content text, and BaseContent keeps the raw JSON the node stores
// and serves.
package message
