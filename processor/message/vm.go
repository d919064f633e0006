package message

import (
	"encoding/json"
	"regexp/syntax"
	"strconv"
)

// Limits of executable content (aleph-message models/execution).
const (
	maxMetadataEntries     = 256
	maxMetadataKeyLength   = 64
	maxMetadataValueLength = 512
	maxAuthorizedKeys      = 256
	maxAuthorizedKeyLength = 8192
	maxVariableEntries     = 256
	maxVariableKeyLength   = 128
	maxVariableValueLength = 4096
	maxVolumes             = 256
	maxReplacesLength      = 128
	maxVolumeLabelLength   = 256
	maxAddressRegexLength  = 256
	maxSubscriptionEntries = 32
	maxVCPUs               = 256
	maxMemoryMiB           = 1024 * 1024
	maxSeconds             = 10 * 365 * 24 * 3600
	maxEphemeralSizeMiB    = 1000
	maxPersistentSizeMiB   = 1953125 // 2048 GB in MiB, rounded up
)

// ExecutableContent is what PROGRAM, INSTANCE and V-PROGRAM content share.
type ExecutableContent struct {
	BaseContent
	// AllowAmend says whether later messages may replace this VM.
	AllowAmend bool
	// Metadata is the JSON text of the metadata object; nil when absent.
	Metadata json.RawMessage
	// AuthorizedKeys are SSH public keys.
	AuthorizedKeys []string
	// Variables are environment variables; nil when absent.
	Variables map[string]string
	// Resources are the requested resources.
	Resources Resources
	// Payment is the payment method; nil means hold.
	Payment *Payment
	// Requirements constrain the host; nil when absent.
	Requirements *Requirements
	// Volumes are the machine volumes (empty for V-PROGRAM, see
	// VProgramContent.VerifiedVolumes).
	Volumes []Volume
	// Replaces is the item hash of the VM this one replaces.
	Replaces string
}

// Resources are the resources a VM asks for.
type Resources struct {
	VCPUs          int64
	MemoryMiB      int64
	Seconds        int64
	PublishedPorts []PublishedPort
}

// PublishedPort is a port of the VM exposed on the host.
type PublishedPort struct {
	Protocol string // "tcp" or "udp"
	Port     int64
}

// Requirements constrain the host a VM runs on.
type Requirements struct {
	CPU  *CPURequirements
	Node *NodeRequirements
	GPU  []GPU
}

// CPURequirements constrain the host CPU.
type CPURequirements struct {
	Architecture string
	Vendor       string
	Features     []string
}

// NodeRequirements pin the compute node.
type NodeRequirements struct {
	Owner              string
	AddressRegex       string
	NodeHash           string
	TermsAndConditions string
}

// GPU is one GPU to pass through to the VM.
type GPU struct {
	Vendor      string
	DeviceName  string
	DeviceClass string // "0300" or "0302"
	DeviceID    string
}

// VolumeKind tells the three machine volume shapes apart.
type VolumeKind string

// Volume kinds.
const (
	// VolumeImmutable is a read-only volume built from a STORE file.
	VolumeImmutable VolumeKind = "immutable"
	// VolumeEphemeral is scratch space lost when the VM stops.
	VolumeEphemeral VolumeKind = "ephemeral"
	// VolumePersistent is kept on the host or on the network.
	VolumePersistent VolumeKind = "persistent"
)

// Volume is one machine volume; which fields are set depends on Kind.
type Volume struct {
	Kind    VolumeKind
	Comment string
	Mount   string
	// Ref and UseLatest are set for immutable volumes.
	Ref       string
	UseLatest bool
	// SizeMiB is set for ephemeral and persistent volumes.
	SizeMiB int64
	// Parent, Persistence and Name are set for persistent volumes.
	Parent      *ParentVolume
	Persistence string
	Name        string
}

// ParentVolume is the STORE file a persistent volume or rootfs copies.
type ParentVolume struct {
	Ref       string
	UseLatest bool
}

// parseExecutable reads the shared fields; extra keys are checked by the
// caller, which knows its own fields.
func parseExecutable(o *value, p *path, base BaseContent, requireAllowAmend bool) (ExecutableContent, error) {
	c := ExecutableContent{BaseContent: base}
	var err error
	fp := p.field("allow_amend")
	if v, ok := o.get("allow_amend"); ok {
		if c.AllowAmend, err = asBool(v, &fp); err != nil {
			return c, err
		}
	} else if requireAllowAmend {
		return c, missing(&fp)
	}
	if err = c.readMetadata(o, p); err != nil {
		return c, err
	}
	if c.AuthorizedKeys, err = getStrList(o, p, "authorized_keys", maxAuthorizedKeys, 0, maxAuthorizedKeyLength); err != nil {
		return c, err
	}
	if err = c.readVariables(o, p); err != nil {
		return c, err
	}
	if c.Resources, err = parseResources(o, p); err != nil {
		return c, err
	}
	if c.Payment, err = getPayment(o, p); err != nil {
		return c, err
	}
	if c.Requirements, err = parseRequirements(o, p); err != nil {
		return c, err
	}
	if c.Replaces, err = getOptStr(o, p, "replaces", maxReplacesLength); err != nil {
		return c, err
	}
	return c, nil
}

// readMetadata applies the metadata rules: at most 256 entries, keys of at
// most 64 characters, scalar values (strings of at most 512 characters),
// except "tags", a tag list.
func (c *ExecutableContent) readMetadata(o *value, p *path) error {
	v, ok := o.getSet("metadata")
	if !ok {
		return nil
	}
	fp := p.field("metadata")
	if err := asObject(v, &fp); err != nil {
		return err
	}
	if len(v.members) > maxMetadataEntries {
		return fail(&fp, "too_long", "must have at most "+strconv.Itoa(maxMetadataEntries)+" entries")
	}
	for i := range v.members {
		m := &v.members[i]
		kp := fp.field(m.key)
		if runeLen(m.key) > maxMetadataKeyLength {
			return errContent(&kp, "metadata key exceeds "+strconv.Itoa(maxMetadataKeyLength)+" characters")
		}
		if m.key == "tags" {
			if _, err := asStrList(&m.val, &kp, maxTags, 1, maxTagLength); err != nil {
				return err
			}
			continue
		}
		switch m.val.kind {
		case kindNull, kindBool, kindNumber:
		case kindString:
			if runeLen(m.val.s) > maxMetadataValueLength {
				return errContent(&kp, "metadata value exceeds "+strconv.Itoa(maxMetadataValueLength)+" characters")
			}
		default:
			return errContent(&kp, "metadata value must be a scalar (string, number, boolean or null)")
		}
	}
	if t, ok := v.get("tags"); ok {
		c.tags = tagsOf(t)
	}
	c.Metadata = rawText(c.Raw, v)
	return nil
}

func (c *ExecutableContent) readVariables(o *value, p *path) error {
	v, ok := o.getSet("variables")
	if !ok {
		return nil
	}
	fp := p.field("variables")
	if err := asObject(v, &fp); err != nil {
		return err
	}
	if len(v.members) > maxVariableEntries {
		return fail(&fp, "too_long", "must have at most "+strconv.Itoa(maxVariableEntries)+" entries")
	}
	c.Variables = make(map[string]string, len(v.members))
	for i := range v.members {
		m := &v.members[i]
		kp := fp.field(m.key)
		if runeLen(m.key) > maxVariableKeyLength {
			return fail(&kp, "string_too_long", "variable name exceeds "+strconv.Itoa(maxVariableKeyLength)+" characters")
		}
		s, err := asStr(&m.val, &kp)
		if err != nil {
			return err
		}
		if runeLen(s) > maxVariableValueLength {
			return fail(&kp, "string_too_long", "variable value exceeds "+strconv.Itoa(maxVariableValueLength)+" characters")
		}
		c.Variables[m.key] = s
	}
	return nil
}

func parseResources(o *value, p *path) (Resources, error) {
	r := Resources{VCPUs: 1, MemoryMiB: 128, Seconds: 1}
	fp := p.field("resources")
	v, ok := o.get("resources")
	if !ok {
		return r, missing(&fp)
	}
	if err := asObject(v, &fp); err != nil {
		return r, err
	}
	var err error
	if r.VCPUs, err = getInt(v, &fp, "vcpus", 1, 1, maxVCPUs, false); err != nil {
		return r, err
	}
	if r.MemoryMiB, err = getInt(v, &fp, "memory", 128, 1, maxMemoryMiB, false); err != nil {
		return r, err
	}
	if r.Seconds, err = getInt(v, &fp, "seconds", 1, 1, maxSeconds, false); err != nil {
		return r, err
	}
	if ports, ok := v.getSet("published_ports"); ok {
		pp := fp.field("published_ports")
		if err := asList(ports, &pp, -1); err != nil {
			return r, err
		}
		for i := range ports.items {
			ip := pp.index(i)
			port := &ports.items[i]
			if err := asObject(port, &ip); err != nil {
				return r, err
			}
			out := PublishedPort{Protocol: "tcp"}
			if x, ok := port.get("protocol"); ok {
				xp := ip.field("protocol")
				if out.Protocol, err = asEnum(x, &xp, "tcp", "udp"); err != nil {
					return r, err
				}
			}
			xp := ip.field("port")
			x, ok := port.get("port")
			if !ok {
				return r, missing(&xp)
			}
			if out.Port, err = boundedInt(x, &xp, 1, 65535, false); err != nil {
				return r, err
			}
			r.PublishedPorts = append(r.PublishedPorts, out)
		}
	}
	return r, nil
}

func parseRequirements(o *value, p *path) (*Requirements, error) {
	v, ok := o.getSet("requirements")
	if !ok {
		return nil, nil
	}
	fp := p.field("requirements")
	if err := asObject(v, &fp); err != nil {
		return nil, err
	}
	if err := forbidExtra(v, &fp, "cpu", "node", "gpu"); err != nil {
		return nil, err
	}
	req := &Requirements{}
	var err error
	if cpu, ok := v.getSet("cpu"); ok {
		cp := fp.field("cpu")
		if err := asObject(cpu, &cp); err != nil {
			return nil, err
		}
		if err := forbidExtra(cpu, &cp, "architecture", "vendor", "features"); err != nil {
			return nil, err
		}
		req.CPU = &CPURequirements{}
		if a, ok := cpu.getSet("architecture"); ok {
			ap := cp.field("architecture")
			if req.CPU.Architecture, err = asEnum(a, &ap, "x86_64", "arm64"); err != nil {
				return nil, err
			}
		}
		if req.CPU.Vendor, err = getOptStr(cpu, &cp, "vendor", 0); err != nil {
			return nil, err
		}
		if req.CPU.Features, err = getStrList(cpu, &cp, "features", -1, 0, 0); err != nil {
			return nil, err
		}
	}
	if node, ok := v.getSet("node"); ok {
		np := fp.field("node")
		if req.Node, err = parseNodeRequirements(node, &np); err != nil {
			return nil, err
		}
	}
	if gpus, ok := v.getSet("gpu"); ok {
		gp := fp.field("gpu")
		if err := asList(gpus, &gp, -1); err != nil {
			return nil, err
		}
		req.GPU = make([]GPU, 0, len(gpus.items))
		for i := range gpus.items {
			ip := gp.index(i)
			g := &gpus.items[i]
			if err := asObject(g, &ip); err != nil {
				return nil, err
			}
			if err := forbidExtra(g, &ip, "vendor", "device_name", "device_class", "device_id"); err != nil {
				return nil, err
			}
			var out GPU
			if out.Vendor, err = getStr(g, &ip, "vendor"); err != nil {
				return nil, err
			}
			if out.DeviceName, err = getStr(g, &ip, "device_name"); err != nil {
				return nil, err
			}
			dp := ip.field("device_class")
			dc, ok := g.get("device_class")
			if !ok {
				return nil, missing(&dp)
			}
			if out.DeviceClass, err = asEnum(dc, &dp, "0300", "0302"); err != nil {
				return nil, err
			}
			if out.DeviceID, err = getStr(g, &ip, "device_id"); err != nil {
				return nil, err
			}
			req.GPU = append(req.GPU, out)
		}
	}
	return req, nil
}

func parseNodeRequirements(node *value, np *path) (*NodeRequirements, error) {
	if err := asObject(node, np); err != nil {
		return nil, err
	}
	if err := forbidExtra(node, np, "owner", "address_regex", "node_hash", "terms_and_conditions"); err != nil {
		return nil, err
	}
	n := &NodeRequirements{}
	var err error
	if n.Owner, err = getOptStr(node, np, "owner", 0); err != nil {
		return nil, err
	}
	if n.AddressRegex, err = getOptStr(node, np, "address_regex", maxAddressRegexLength); err != nil {
		return nil, err
	}
	if _, ok := node.getSet("address_regex"); ok && !pythonRegexCompiles(n.AddressRegex) {
		rp := np.field("address_regex")
		return nil, errContent(&rp, "invalid regular expression")
	}
	if n.NodeHash, err = getOptItemHash(node, np, "node_hash"); err != nil {
		return nil, err
	}
	if n.TermsAndConditions, err = getOptItemHash(node, np, "terms_and_conditions"); err != nil {
		return nil, err
	}
	return n, nil
}

// pythonRegexCompiles approximates Python's re.compile succeeding. It
// parses with Go's RE2 syntax and accepts the errors that come only from
// Python features RE2 lacks (lookarounds, backreferences, possessive
// repeats, large repeat counts); every other syntax error (unbalanced
// parentheses, nothing to repeat, bad ranges...) is an error in Python too.
func pythonRegexCompiles(re string) bool {
	_, err := syntax.Parse(re, syntax.Perl)
	if err == nil {
		return true
	}
	serr, ok := err.(*syntax.Error)
	if !ok {
		return false
	}
	switch serr.Code {
	case syntax.ErrInvalidPerlOp, syntax.ErrInvalidEscape, syntax.ErrInvalidRepeatOp,
		syntax.ErrInvalidRepeatSize, syntax.ErrInvalidNamedCapture, syntax.ErrNestingDepth,
		syntax.ErrLarge:
		return true
	}
	return false
}

// parseVolumes reads the machine volumes, each the first of immutable,
// ephemeral and persistent that validates (pydantic's union resolution for
// these shapes).
func parseVolumes(o *value, p *path) ([]Volume, error) {
	v, ok := o.get("volumes")
	if !ok {
		return nil, nil
	}
	fp := p.field("volumes")
	if err := asList(v, &fp, maxVolumes); err != nil {
		return nil, err
	}
	out := make([]Volume, 0, len(v.items))
	for i := range v.items {
		ip := fp.index(i)
		vol, err := parseVolume(&v.items[i], &ip)
		if err != nil {
			return nil, err
		}
		out = append(out, vol)
	}
	return out, nil
}

func parseVolume(v *value, p *path) (Volume, error) {
	if err := asObject(v, p); err != nil {
		return Volume{}, err
	}
	imm, errImm := parseImmutableVolume(v, p)
	if errImm == nil {
		return imm, nil
	}
	eph, errEph := parseEphemeralVolume(v, p)
	if errEph == nil {
		return eph, nil
	}
	per, errPer := parsePersistentVolume(v, p)
	if errPer == nil {
		return per, nil
	}
	// Report the error of the shape the volume looks like.
	if _, ok := v.get("ref"); ok {
		return Volume{}, errImm
	}
	if _, ok := v.get("ephemeral"); ok {
		return Volume{}, errEph
	}
	return Volume{}, errPer
}

// volumeLabels reads comment and mount, shared by every volume.
func volumeLabels(v *value, p *path, vol *Volume) error {
	var err error
	if vol.Comment, err = getOptStr(v, p, "comment", maxVolumeLabelLength); err != nil {
		return err
	}
	vol.Mount, err = getOptStr(v, p, "mount", maxVolumeLabelLength)
	return err
}

func parseImmutableVolume(v *value, p *path) (Volume, error) {
	vol := Volume{Kind: VolumeImmutable, UseLatest: true}
	if err := forbidExtra(v, p, "comment", "mount", "ref", "use_latest"); err != nil {
		return vol, err
	}
	if err := volumeLabels(v, p, &vol); err != nil {
		return vol, err
	}
	var err error
	if vol.Ref, err = getItemHash(v, p, "ref"); err != nil {
		return vol, err
	}
	vol.UseLatest, err = getBool(v, p, "use_latest", true)
	return vol, err
}

func parseEphemeralVolume(v *value, p *path) (Volume, error) {
	vol := Volume{Kind: VolumeEphemeral}
	if err := forbidExtra(v, p, "comment", "mount", "ephemeral", "size_mib"); err != nil {
		return vol, err
	}
	if err := volumeLabels(v, p, &vol); err != nil {
		return vol, err
	}
	if e, ok := v.get("ephemeral"); ok && !(e.kind == kindBool && e.b) {
		ep := p.field("ephemeral")
		return vol, fail(&ep, "literal_error", "must be true")
	}
	var err error
	vol.SizeMiB, err = requiredInt(v, p, "size_mib", 1, maxEphemeralSizeMiB, true)
	return vol, err
}

func parsePersistentVolume(v *value, p *path) (Volume, error) {
	vol := Volume{Kind: VolumePersistent}
	if err := forbidExtra(v, p, "comment", "mount", "parent", "persistence", "name", "size_mib"); err != nil {
		return vol, err
	}
	if err := volumeLabels(v, p, &vol); err != nil {
		return vol, err
	}
	var err error
	if pv, ok := v.getSet("parent"); ok {
		pp := p.field("parent")
		if vol.Parent, err = parseParentVolume(pv, &pp); err != nil {
			return vol, err
		}
	}
	if x, ok := v.getSet("persistence"); ok {
		xp := p.field("persistence")
		if vol.Persistence, err = asEnum(x, &xp, "host", "store"); err != nil {
			return vol, err
		}
	}
	if vol.Name, err = getOptStr(v, p, "name", maxVolumeLabelLength); err != nil {
		return vol, err
	}
	vol.SizeMiB, err = requiredInt(v, p, "size_mib", 1, maxPersistentSizeMiB, true)
	return vol, err
}

// parseParentVolume reads {ref, use_latest=true} (extra keys ignored).
func parseParentVolume(v *value, p *path) (*ParentVolume, error) {
	if err := asObject(v, p); err != nil {
		return nil, err
	}
	pv := &ParentVolume{}
	var err error
	if pv.Ref, err = getItemHash(v, p, "ref"); err != nil {
		return nil, err
	}
	if pv.UseLatest, err = getBool(v, p, "use_latest", true); err != nil {
		return nil, err
	}
	return pv, nil
}

// requiredInt reads a required bounded int.
func requiredInt(o *value, p *path, key string, lo, hi int64, strict bool) (int64, error) {
	fp := p.field(key)
	v, ok := o.get(key)
	if !ok {
		return 0, missing(&fp)
	}
	return boundedInt(v, &fp, lo, hi, strict)
}
