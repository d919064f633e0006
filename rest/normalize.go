package rest

import (
	"encoding/json"
)

// optionalContent are, per message type, the optional top-level content
// fields pyaleph's message models declare, with the value they dump when
// absent. GET /api/v0/messages/{hash} re-validates a processed message
// through those models and dumps every optional field (§9.3), where the
// lists serve the raw stored content. PROGRAM and INSTANCE are served
// raw (their models nest optional fields at every level).
var optionalContent = map[string]map[string]json.RawMessage{
	"POST": {"content": json.RawMessage("null"), "ref": json.RawMessage("null")},
	"STORE": {"size": json.RawMessage("null"), "content_type": json.RawMessage("null"), "ref": json.RawMessage("null"),
		"metadata": json.RawMessage("null"), "payment": json.RawMessage("null"), "tags": json.RawMessage("null")},
	"FORGET": {"aggregates": json.RawMessage("[]"), "reason": json.RawMessage("null")},
}

// normalizedContent returns a processed message's content with the
// optional fields of its type present (see optionalContent); content
// that is not a JSON object, or of another type, is returned unchanged.
func normalizedContent(msgType string, content json.RawMessage) json.RawMessage {
	opt := optionalContent[msgType]
	if opt == nil || len(content) == 0 {
		return content
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(content, &fields) != nil || fields == nil {
		return content
	}
	changed := false
	for k, v := range opt {
		if _, ok := fields[k]; !ok {
			fields[k], changed = v, true
		}
	}
	if !changed {
		return content
	}
	b, err := json.Marshal(fields)
	if err != nil {
		return content
	}
	return b
}
