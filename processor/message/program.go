package message

import "encoding/json"

// ProgramContent is the content of a PROGRAM message: a function VM.
type ProgramContent struct {
	ExecutableContent
	// Code is the STORE file holding the program.
	Code Code
	// Runtime is the STORE file holding the root filesystem.
	Runtime Runtime
	// Data is optional input data.
	Data *Data
	// Export is optional output data.
	Export *Export
	// On says what triggers the program.
	On Triggers
	// Environment is the execution environment.
	Environment FunctionEnvironment
}

// MessageType returns TypeProgram.
func (*ProgramContent) MessageType() Type { return TypeProgram }

// Code is a program's code volume.
type Code struct {
	Encoding   string // plain, zip or squashfs
	Entrypoint string
	Ref        string
	Interface  string // asgi, binary, or "" when not given
	Args       []string
	UseLatest  bool
}

// Runtime is a program's root filesystem.
type Runtime struct {
	Ref       string
	UseLatest bool
	Comment   string
}

// Data is a program's input data volume.
type Data struct {
	Encoding  string
	Mount     string
	Ref       string
	UseLatest bool
}

// Export is a program's output volume.
type Export struct {
	Encoding string
	Mount    string
}

// Triggers say when a program runs.
type Triggers struct {
	HTTP bool
	// Message is the JSON text of the message subscriptions; nil when
	// absent.
	Message    json.RawMessage
	Persistent *bool
}

// FunctionEnvironment is a program's environment.
type FunctionEnvironment struct {
	Reproducible bool
	Internet     bool
	AlephAPI     bool
	SharedCache  bool
}

func parseProgram(o *value, p *path, base BaseContent) (*ProgramContent, error) {
	if err := forbidExtra(o, p, "address", "time", "allow_amend", "metadata", "authorized_keys", "variables",
		"environment", "resources", "payment", "requirements", "volumes", "replaces",
		"type", "code", "runtime", "data", "export", "on"); err != nil {
		return nil, err
	}
	ex, err := parseExecutable(o, p, base, true)
	if err != nil {
		return nil, err
	}
	c := &ProgramContent{ExecutableContent: ex}
	tp := p.field("type")
	t, ok := o.get("type")
	if !ok {
		return nil, missing(&tp)
	}
	if _, err := asEnum(t, &tp, "vm-function"); err != nil {
		return nil, err
	}
	if c.Code, err = parseCode(o, p); err != nil {
		return nil, err
	}
	if c.Runtime, err = parseRuntime(o, p); err != nil {
		return nil, err
	}
	if c.Data, err = parseData(o, p); err != nil {
		return nil, err
	}
	if c.Export, err = parseExport(o, p); err != nil {
		return nil, err
	}
	if c.On, err = parseTriggers(o, p, c.Raw); err != nil {
		return nil, err
	}
	if c.Environment, err = parseFunctionEnvironment(o, p); err != nil {
		return nil, err
	}
	if c.Volumes, err = parseVolumes(o, p); err != nil {
		return nil, err
	}
	return c, nil
}

// requiredObject returns the object at key.
func requiredObject(o *value, p *path, key string) (*value, path, error) {
	fp := p.field(key)
	v, ok := o.get(key)
	if !ok {
		return nil, fp, missing(&fp)
	}
	if err := asObject(v, &fp); err != nil {
		return nil, fp, err
	}
	return v, fp, nil
}

// requiredEnum reads a required enum field.
func requiredEnum(o *value, p *path, key string, allowed ...string) (string, error) {
	fp := p.field(key)
	v, ok := o.get(key)
	if !ok {
		return "", missing(&fp)
	}
	return asEnum(v, &fp, allowed...)
}

func parseCode(o *value, p *path) (Code, error) {
	var c Code
	v, fp, err := requiredObject(o, p, "code")
	if err != nil {
		return c, err
	}
	if c.Encoding, err = requiredEnum(v, &fp, "encoding", "plain", "zip", "squashfs"); err != nil {
		return c, err
	}
	if c.Entrypoint, err = getStr(v, &fp, "entrypoint"); err != nil {
		return c, err
	}
	if c.Ref, err = getItemHash(v, &fp, "ref"); err != nil {
		return c, err
	}
	if x, ok := v.getSet("interface"); ok {
		xp := fp.field("interface")
		if c.Interface, err = asEnum(x, &xp, "asgi", "binary"); err != nil {
			return c, err
		}
	}
	if c.Args, err = getStrList(v, &fp, "args", -1, 0, 0); err != nil {
		return c, err
	}
	c.UseLatest, err = getBool(v, &fp, "use_latest", false)
	return c, err
}

func parseRuntime(o *value, p *path) (Runtime, error) {
	var r Runtime
	v, fp, err := requiredObject(o, p, "runtime")
	if err != nil {
		return r, err
	}
	if r.Ref, err = getItemHash(v, &fp, "ref"); err != nil {
		return r, err
	}
	if r.UseLatest, err = getBool(v, &fp, "use_latest", true); err != nil {
		return r, err
	}
	r.Comment, err = getStr(v, &fp, "comment")
	return r, err
}

func parseData(o *value, p *path) (*Data, error) {
	v, ok := o.getSet("data")
	if !ok {
		return nil, nil
	}
	fp := p.field("data")
	if err := asObject(v, &fp); err != nil {
		return nil, err
	}
	d := &Data{}
	var err error
	if d.Encoding, err = requiredEnum(v, &fp, "encoding", "plain", "zip", "squashfs"); err != nil {
		return nil, err
	}
	if d.Mount, err = getStr(v, &fp, "mount"); err != nil {
		return nil, err
	}
	if d.Ref, err = getItemHash(v, &fp, "ref"); err != nil {
		return nil, err
	}
	b, err := getOptBool(v, &fp, "use_latest")
	if err != nil {
		return nil, err
	}
	d.UseLatest = b != nil && *b
	return d, nil
}

func parseExport(o *value, p *path) (*Export, error) {
	v, ok := o.getSet("export")
	if !ok {
		return nil, nil
	}
	fp := p.field("export")
	if err := asObject(v, &fp); err != nil {
		return nil, err
	}
	e := &Export{}
	var err error
	if e.Encoding, err = requiredEnum(v, &fp, "encoding", "plain", "zip", "squashfs"); err != nil {
		return nil, err
	}
	if e.Mount, err = getStr(v, &fp, "mount"); err != nil {
		return nil, err
	}
	return e, nil
}

func parseTriggers(o *value, p *path, src string) (Triggers, error) {
	var t Triggers
	v, fp, err := requiredObject(o, p, "on")
	if err != nil {
		return t, err
	}
	if err := forbidExtra(v, &fp, "http", "message", "persistent"); err != nil {
		return t, err
	}
	hp := fp.field("http")
	h, ok := v.get("http")
	if !ok {
		return t, missing(&hp)
	}
	if t.HTTP, err = asBool(h, &hp); err != nil {
		return t, err
	}
	if m, ok := v.getSet("message"); ok {
		mp := fp.field("message")
		if err := asList(m, &mp, -1); err != nil {
			return t, err
		}
		for i := range m.items {
			ip := mp.index(i)
			sub := &m.items[i]
			if err := asObject(sub, &ip); err != nil {
				return t, err
			}
			if len(sub.members) > maxSubscriptionEntries {
				return t, errContent(&ip, "subscription has more than 32 entries")
			}
		}
		t.Message = rawText(src, m)
	}
	t.Persistent, err = getOptBool(v, &fp, "persistent")
	return t, err
}

func parseFunctionEnvironment(o *value, p *path) (FunctionEnvironment, error) {
	var e FunctionEnvironment
	v, fp, err := requiredObject(o, p, "environment")
	if err != nil {
		return e, err
	}
	if e.Reproducible, err = getBool(v, &fp, "reproducible", false); err != nil {
		return e, err
	}
	if e.Internet, err = getBool(v, &fp, "internet", false); err != nil {
		return e, err
	}
	if e.AlephAPI, err = getBool(v, &fp, "aleph_api", false); err != nil {
		return e, err
	}
	e.SharedCache, err = getBool(v, &fp, "shared_cache", false)
	return e, err
}
