package baseline

import (
	"encoding/base64"
	"encoding/json"
	"time"
)

// The GraphQL documents of the API benchmark. The baseline answers each
// one (see Handler) with the bytes of the GraphQL response's "data".
const (
	// FeedQuery is a message feed page: the channel feed with
	// {"filter": {"channels": [CH]}}, the whole feed with a null filter,
	// a deep page with "after".
	FeedQuery = `query Feed($filter: MessageFilter, $after: Cursor) { messages(filter: $filter, first: 20, after: $after) { edges { cursor node { hash type chain sender owner channel time itemType contentType content } } pageInfo { hasNextPage endCursor } } }`
	// CountQuery is the number of messages of one channel.
	CountQuery = `query Count($channel: String!) { messages(filter: {channels: [$channel]}) { totalCount countIsExact } }`
	// MessageQuery is one message by hash.
	MessageQuery = `query Message($hash: String!) { message(hash: $hash) { hash type chain sender owner channel time itemType contentType content } }`
	// AddressQuery is an address page: the address's latest messages,
	// posts and aggregates in one request.
	AddressQuery = `query Address($address: String!) { messages(filter: {senders: [$address]}, first: 20) { edges { cursor node { hash type chain channel time contentType } } pageInfo { hasNextPage endCursor } } posts(filter: {owners: [$address]}, first: 20) { edges { cursor node { hash type channel ref createdAt lastUpdated content } } pageInfo { hasNextPage endCursor } } aggregates(filter: {owners: [$address]}, first: 20) { edges { cursor node { key content lastUpdated elementCount } } pageInfo { hasNextPage endCursor } } }`
)

// pageSize is the page size of FeedQuery and AddressQuery.
const pageSize = 20

// Paths of the baseline's answers, under the prefix the handler is
// mounted at (Prefix). Parameters are query-string values:
//
//	feed?channel=CH&after=CURSOR   FeedQuery (channel and after optional)
//	count?channel=CH               CountQuery
//	message?hash=H                 MessageQuery
//	address?address=A              AddressQuery
const Prefix = "/bench/baseline/"

// messageCursor is the GraphQL API's message cursor (graph.messageCursor
// in time order): the JSON of the message's time and hash, base64url.
type messageCursor struct {
	T time.Time `json:"t"`
	H string    `json:"h"`
}

// keyCursor is the GraphQL API's cursor of the other lists.
type keyCursor struct {
	A any    `json:"a"`
	B string `json:"b"`
}

// MessageCursor returns the GraphQL API's cursor of a message in the
// messages list ordered by time: what a page's endCursor holds, for a
// deep page's "after".
func MessageCursor(t time.Time, hash string) string {
	return encodeCursor(messageCursor{T: t.UTC(), H: hash})
}

func encodeCursor(v any) string {
	b, _ := json.Marshal(v) // plain structs
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeMessageCursor reads a MessageCursor.
func decodeMessageCursor(s string) (messageCursor, error) {
	var c messageCursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	return c, err
}
