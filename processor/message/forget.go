package message

// ForgetContent is the content of a FORGET message.
type ForgetContent struct {
	BaseContent
	// Hashes are the item hashes of the messages to forget.
	Hashes []string
	// Aggregates are aggregate keys to forget. aleph-message types them as
	// item hashes, so only hash-shaped keys can be forgotten.
	Aggregates []string
	// Reason is the optional free-text reason.
	Reason string
}

// MessageType returns TypeForget.
func (*ForgetContent) MessageType() Type { return TypeForget }

// FORGET limits (aleph-message MAX_FORGET_TARGETS, MAX_FORGET_REASON_LENGTH).
const (
	maxForgetTargets      = 1000
	maxForgetReasonLength = 1000
)

func parseForget(o *value, p *path, base BaseContent) (*ForgetContent, error) {
	if err := forbidExtra(o, p, "address", "time", "hashes", "aggregates", "reason"); err != nil {
		return nil, err
	}
	c := &ForgetContent{BaseContent: base}
	fp := p.field("hashes")
	v, ok := o.get("hashes")
	if !ok {
		return nil, missing(&fp)
	}
	var err error
	if c.Hashes, err = hashList(v, &fp); err != nil {
		return nil, err
	}
	if v, ok = o.get("aggregates"); ok {
		fp = p.field("aggregates")
		if c.Aggregates, err = hashList(v, &fp); err != nil {
			return nil, err
		}
	}
	if c.Reason, err = getOptStr(o, p, "reason", maxForgetReasonLength); err != nil {
		return nil, err
	}
	return c, nil
}

// hashList reads a list of at most maxForgetTargets item hashes.
func hashList(v *value, p *path) ([]string, error) {
	if err := asList(v, p, maxForgetTargets); err != nil {
		return nil, err
	}
	out := make([]string, len(v.items))
	for i := range v.items {
		ip := p.index(i)
		h, err := asItemHash(&v.items[i], &ip)
		if err != nil {
			return nil, err
		}
		out[i] = h
	}
	return out, nil
}
