package message

import "encoding/json"

// AggregateContent is the content of an AGGREGATE message: a shallow
// update of the owner's aggregate named Key.
type AggregateContent struct {
	BaseContent
	// Key is the aggregate key: the key string, or the name of a
	// {"name": ...} key object.
	Key string
	// KeyIsObject is true when the key was sent as {"name": ...}; the
	// reference node then stores str(model), "name='x'", as the key.
	KeyIsObject bool
	// Content is the JSON text of the update, always an object.
	Content json.RawMessage
}

// MessageType returns TypeAggregate.
func (*AggregateContent) MessageType() Type { return TypeAggregate }

func parseAggregate(o *value, p *path, base BaseContent) (*AggregateContent, error) {
	if err := forbidExtra(o, p, "address", "time", "key", "content"); err != nil {
		return nil, err
	}
	c := &AggregateContent{BaseContent: base}
	fp := p.field("key")
	v, ok := o.get("key")
	if !ok {
		return nil, missing(&fp)
	}
	switch v.kind {
	case kindString:
		c.Key = v.s
	case kindObject:
		if err := forbidExtra(v, &fp, "name"); err != nil {
			return nil, err
		}
		name, err := getStr(v, &fp, "name")
		if err != nil {
			return nil, err
		}
		c.Key, c.KeyIsObject = name, true
	default:
		return nil, wrongType(&fp, "a string or an object", v)
	}
	fp = p.field("content")
	if v, ok = o.get("content"); !ok {
		return nil, missing(&fp)
	}
	if err := asObject(v, &fp); err != nil {
		return nil, err
	}
	tags, err := checkNestedTags(v, &fp)
	if err != nil {
		return nil, err
	}
	c.tags = tags
	c.Content = rawText(c.Raw, v)
	return c, nil
}
