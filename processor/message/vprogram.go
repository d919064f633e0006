package message

import (
	"encoding/json"
	"strconv"
)

// VProgramContent is the content of a V-PROGRAM message: a verifiable,
// immutable program whose workload is measured by the trusted execution
// backend. The schema follows pyaleph's V-PROGRAM handler and tests (the
// aleph-message model was not available in full when this was written).
type VProgramContent struct {
	ExecutableContent
	// Environment is the execution environment.
	Environment VProgramEnvironment
	// Runtime is the runtime manifest.
	Runtime VProgramRuntime
	// Workload is the verity-protected workload image.
	Workload VerifiedVolume
	// Verification is how the launch is attested.
	Verification Verification
	// VerifiedVolumes are the verity-bound read-only volumes, in order.
	VerifiedVolumes []VerifiedVolume
}

// MessageType returns TypeVProgram.
func (*VProgramContent) MessageType() Type { return TypeVProgram }

// VProgramEnvironment is a V-PROGRAM's environment.
type VProgramEnvironment struct {
	Internet bool
}

// VProgramRuntime is a V-PROGRAM's runtime manifest.
type VProgramRuntime struct {
	Ref     string
	Comment string
}

// VerifiedVolume is a dm-verity protected file: the data, its hash tree
// and the root hash. Comment is empty for the workload.
type VerifiedVolume struct {
	Ref      string
	HashTree string
	Roothash string
	Comment  string
}

// Verification describes the attestation of a V-PROGRAM.
type Verification struct {
	Backend string // "sev_snp"
	Policy  uint64
	// Measurements is the JSON text of the expected launch measurements.
	Measurements json.RawMessage
}

// V-PROGRAM limits.
const (
	maxVerifiedVolumes       = 8
	maxVProgramCommentLength = 1024
)

func parseVProgram(o *value, p *path, base BaseContent) (*VProgramContent, error) {
	if err := forbidExtra(o, p, "address", "time", "allow_amend", "metadata", "authorized_keys", "variables",
		"environment", "resources", "payment", "requirements", "volumes", "replaces",
		"runtime", "workload", "verification"); err != nil {
		return nil, err
	}
	for _, key := range []string{"replaces", "variables", "authorized_keys"} {
		if _, ok := o.getSet(key); ok {
			fp := p.field(key)
			return nil, fail(&fp, "extra_forbidden", "not allowed in a V-PROGRAM")
		}
	}
	ex, err := parseExecutable(o, p, base, false)
	if err != nil {
		return nil, err
	}
	if ex.AllowAmend {
		fp := p.field("allow_amend")
		return nil, errContent(&fp, "V-PROGRAMs are immutable: allow_amend must be false")
	}
	fp := p.field("payment")
	if ex.Payment == nil {
		return nil, missing(&fp)
	}
	if ex.Payment.Type != PaymentCredit {
		return nil, errContent(&fp, "V-PROGRAMs are paid with credits only")
	}
	c := &VProgramContent{ExecutableContent: ex}
	env, ep, err := requiredObject(o, p, "environment")
	if err != nil {
		return nil, err
	}
	if err := forbidExtra(env, &ep, "internet"); err != nil {
		return nil, err
	}
	if c.Environment.Internet, err = getBool(env, &ep, "internet", false); err != nil {
		return nil, err
	}
	rt, rp, err := requiredObject(o, p, "runtime")
	if err != nil {
		return nil, err
	}
	if err := forbidExtra(rt, &rp, "ref", "comment"); err != nil {
		return nil, err
	}
	if c.Runtime.Ref, err = getItemHash(rt, &rp, "ref"); err != nil {
		return nil, err
	}
	if c.Runtime.Comment, err = getStr(rt, &rp, "comment"); err != nil {
		return nil, err
	}
	if runeLen(c.Runtime.Comment) > maxVProgramCommentLength {
		cp := rp.field("comment")
		return nil, fail(&cp, "string_too_long", "must have at most "+strconv.Itoa(maxVProgramCommentLength)+" characters")
	}
	wl, wp, err := requiredObject(o, p, "workload")
	if err != nil {
		return nil, err
	}
	if c.Workload, err = parseVerifiedVolume(wl, &wp, false); err != nil {
		return nil, err
	}
	if c.Verification, err = parseVerification(o, p, c.Raw); err != nil {
		return nil, err
	}
	if vols, ok := o.get("volumes"); ok {
		vp := p.field("volumes")
		if err := asList(vols, &vp, maxVerifiedVolumes); err != nil {
			return nil, err
		}
		for i := range vols.items {
			ip := vp.index(i)
			if err := asObject(&vols.items[i], &ip); err != nil {
				return nil, err
			}
			vol, err := parseVerifiedVolume(&vols.items[i], &ip, true)
			if err != nil {
				return nil, err
			}
			c.VerifiedVolumes = append(c.VerifiedVolumes, vol)
		}
	}
	return c, nil
}

func parseVerifiedVolume(v *value, p *path, withComment bool) (VerifiedVolume, error) {
	var out VerifiedVolume
	allowed := []string{"ref", "hash_tree", "roothash"}
	if withComment {
		allowed = append(allowed, "comment")
	}
	if err := forbidExtra(v, p, allowed...); err != nil {
		return out, err
	}
	var err error
	if out.Ref, err = getItemHash(v, p, "ref"); err != nil {
		return out, err
	}
	if out.HashTree, err = getItemHash(v, p, "hash_tree"); err != nil {
		return out, err
	}
	if out.Roothash, err = getStr(v, p, "roothash"); err != nil {
		return out, err
	}
	if !IsHexSHA256(out.Roothash) {
		rp := p.field("roothash")
		return out, fail(&rp, "string_pattern_mismatch", "must be 64 lower-case hex characters")
	}
	if withComment {
		if out.Comment, err = getStr(v, p, "comment"); err != nil {
			return out, err
		}
	}
	return out, nil
}

func parseVerification(o *value, p *path, src string) (Verification, error) {
	var out Verification
	v, fp, err := requiredObject(o, p, "verification")
	if err != nil {
		return out, err
	}
	if err := forbidExtra(v, &fp, "backend", "policy", "measurements"); err != nil {
		return out, err
	}
	if out.Backend, err = requiredEnum(v, &fp, "backend", "sev_snp"); err != nil {
		return out, err
	}
	pp := fp.field("policy")
	pv, ok := v.get("policy")
	if !ok {
		return out, missing(&pp)
	}
	if pv.kind != kindNumber || !pv.isInt || pv.s[0] == '-' {
		return out, fail(&pp, "int_type", "must be an unsigned 64-bit integer")
	}
	if out.Policy, err = strconv.ParseUint(pv.s, 10, 64); err != nil {
		return out, fail(&pp, "int_range", "must be an unsigned 64-bit integer")
	}
	mp := fp.field("measurements")
	m, ok := v.get("measurements")
	if !ok {
		return out, missing(&mp)
	}
	if err := asList(m, &mp, -1); err != nil {
		return out, err
	}
	if len(m.items) == 0 {
		return out, fail(&mp, "too_short", "must have at least 1 item")
	}
	for i := range m.items {
		ip := mp.index(i)
		if err := asObject(&m.items[i], &ip); err != nil {
			return out, err
		}
	}
	out.Measurements = rawText(src, m)
	return out, nil
}
