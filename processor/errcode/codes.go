package errcode

import "strconv"

// Code is a protocol error code, stored in rejected_messages.error_code and
// served by the API. Its numbers are part of the protocol: never renumber.
type Code int

// Kind says what the pipeline does with a message that failed with a code.
type Kind int

// Kinds of failure. Do not reorder: the values may be persisted and compared.
const (
	// Invalid means the message can never succeed: reject it.
	Invalid Kind = iota
	// Transient means the failure may go away by itself (a network or
	// database hiccup): retry with back-off.
	Transient
	// MissingDependency means the message refers to something the node does
	// not know yet (an amend target, a STORE ref, a volume): retry later.
	MissingDependency
)

// String returns the kind's name.
func (k Kind) String() string {
	switch k {
	case Invalid:
		return "invalid"
	case Transient:
		return "transient"
	case MissingDependency:
		return "missing_dependency"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// The protocol's error codes (pyaleph types/message_status.py and the
// error_codes table). Each constant's properties live in the table below.
const (
	InternalError           Code = -1
	InvalidFormat           Code = 0
	InvalidSignature        Code = 1
	PermissionDenied        Code = 2
	ContentUnavailable      Code = 3
	FileUnavailable         Code = 4
	BalanceInsufficient     Code = 5
	CreditInsufficient      Code = 6
	PostAmendNoTarget       Code = 100
	PostAmendTargetNotFound Code = 101
	PostAmendAmend          Code = 102
	StoreRefNotFound        Code = 200
	StoreUpdateUpdate       Code = 201
	InvalidPaymentMethod    Code = 202
	VMRefNotFound           Code = 300
	VMVolumeNotFound        Code = 301
	VMAmendNotAllowed       Code = 302
	VMUpdateUpdate          Code = 303
	VMVolumeTooSmall        Code = 304
	ForgetNoTarget          Code = 500
	ForgetTargetNotFound    Code = 501
	ForgetForget            Code = 502
	ForgetNotAllowed        Code = 503
	ForgottenDuplicate      Code = 504
)

// Info describes one error code: one row of the table every other view of
// the codes (String, Kind, All, the database's error_codes rows) is read
// from.
type Info struct {
	// Code is the stable protocol number.
	Code Code
	// Name is the protocol name, e.g. "INVALID_FORMAT".
	Name string
	// Kind says whether a message failing with this code is rejected or
	// retried.
	Kind Kind
	// Description explains the code in one sentence.
	Description string
}

// table is the single definition of every code. It is never modified.
// INTERNAL_ERROR is Transient: the pipeline retries it and rejects the
// message once its retries are exhausted.
var table = [...]Info{
	{InternalError, "INTERNAL_ERROR", Transient, "unexpected error while processing the message"},
	{InvalidFormat, "INVALID_FORMAT", Invalid, "the message or its content does not follow the protocol's format (JSON, schema, item hash, unknown chain)"},
	{InvalidSignature, "INVALID_SIGNATURE", Invalid, "the signature is missing, does not verify, or differs from the one of an already known copy"},
	{PermissionDenied, "PERMISSION_DENIED", Invalid, "the sender may not act for the content's address or on the target"},
	{ContentUnavailable, "CONTENT_UNAVAILABLE", Transient, "the content of a storage or ipfs message could not be fetched"},
	{FileUnavailable, "FILE_UNAVAILABLE", Transient, "a file referenced by the message could not be fetched or pinned"},
	{BalanceInsufficient, "BALANCE_INSUFFICIENT", Invalid, "the owner's held balance does not cover the cost"},
	{CreditInsufficient, "CREDIT_INSUFFICIENT", Invalid, "the owner's credit balance does not cover the cost"},
	{PostAmendNoTarget, "POST_AMEND_NO_TARGET", Invalid, "an amend POST has no ref"},
	{PostAmendTargetNotFound, "POST_AMEND_TARGET_NOT_FOUND", MissingDependency, "the POST targeted by an amend is not known yet"},
	{PostAmendAmend, "POST_AMEND_AMEND", Invalid, "the POST targeted by an amend is itself an amend"},
	{StoreRefNotFound, "STORE_REF_NOT_FOUND", MissingDependency, "the STORE referenced by ref is not known yet"},
	{StoreUpdateUpdate, "STORE_UPDATE_UPDATE", Invalid, "the STORE referenced by ref has a ref itself"},
	{InvalidPaymentMethod, "INVALID_PAYMENT_METHOD", Invalid, "the payment method is no longer accepted for this message"},
	{VMRefNotFound, "VM_REF_NOT_FOUND", MissingDependency, "the VM targeted by replaces is not known yet"},
	{VMVolumeNotFound, "VM_VOLUME_NOT_FOUND", MissingDependency, "a volume of the VM refers to an unknown file"},
	{VMAmendNotAllowed, "VM_AMEND_NOT_ALLOWED", Invalid, "the VM targeted by replaces does not allow amends"},
	{VMUpdateUpdate, "VM_UPDATE_UPDATE", Invalid, "the VM targeted by replaces replaces another VM itself"},
	{VMVolumeTooSmall, "VM_VOLUME_TOO_SMALL", Invalid, "a volume is smaller than the file it is built from"},
	{ForgetNoTarget, "FORGET_NO_TARGET", Invalid, "a FORGET names neither hashes nor aggregates"},
	{ForgetTargetNotFound, "FORGET_TARGET_NOT_FOUND", MissingDependency, "a message or aggregate targeted by a FORGET is not known yet"},
	{ForgetForget, "FORGET_FORGET", Invalid, "a FORGET targets another FORGET"},
	{ForgetNotAllowed, "FORGET_NOT_ALLOWED", Invalid, "a FORGET targets a file used as a VM volume"},
	{ForgottenDuplicate, "FORGOTTEN_DUPLICATE", Invalid, "the message was received again after being forgotten"},
}

// lookup returns the table row of c.
func lookup(c Code) (Info, bool) {
	for _, in := range table {
		if in.Code == c {
			return in, true
		}
	}
	return Info{}, false
}

// All returns every code of the table, in table order (increasing numbers).
// The slice is a copy: callers may keep or modify it.
func All() []Info {
	out := make([]Info, len(table))
	copy(out, table[:])
	return out
}

// String returns the protocol name of c, e.g. "INVALID_FORMAT".
func (c Code) String() string {
	if in, ok := lookup(c); ok {
		return in.Name
	}
	return "Code(" + strconv.Itoa(int(c)) + ")"
}

// Kind returns what the pipeline does with a message failing with c.
// Unknown codes are Invalid.
func (c Code) Kind() Kind {
	if in, ok := lookup(c); ok {
		return in.Kind
	}
	return Invalid
}

// Valid reports whether c is one of the protocol's codes.
func (c Code) Valid() bool {
	_, ok := lookup(c)
	return ok
}

// Description returns the one-sentence explanation of c.
func (c Code) Description() string {
	in, _ := lookup(c)
	return in.Description
}
