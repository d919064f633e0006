package errcode

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTable(t *testing.T) {
	t.Parallel()
	seenCode := map[Code]bool{}
	seenName := map[string]bool{}
	prev := Code(-2)
	for _, in := range All() {
		require.False(t, seenCode[in.Code], "duplicate code %d", in.Code)
		require.False(t, seenName[in.Name], "duplicate name %s", in.Name)
		require.Greater(t, in.Code, prev, "table not sorted at %s", in.Name)
		require.NotEmpty(t, in.Description)
		seenCode[in.Code], seenName[in.Name], prev = true, true, in.Code
	}
	require.Len(t, All(), 24)
}

func TestCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code Code
		num  int
		name string
		kind Kind
	}{
		{InternalError, -1, "INTERNAL_ERROR", Transient},
		{InvalidFormat, 0, "INVALID_FORMAT", Invalid},
		{InvalidSignature, 1, "INVALID_SIGNATURE", Invalid},
		{PermissionDenied, 2, "PERMISSION_DENIED", Invalid},
		{ContentUnavailable, 3, "CONTENT_UNAVAILABLE", Transient},
		{FileUnavailable, 4, "FILE_UNAVAILABLE", Transient},
		{BalanceInsufficient, 5, "BALANCE_INSUFFICIENT", Invalid},
		{CreditInsufficient, 6, "CREDIT_INSUFFICIENT", Invalid},
		{PostAmendNoTarget, 100, "POST_AMEND_NO_TARGET", Invalid},
		{PostAmendTargetNotFound, 101, "POST_AMEND_TARGET_NOT_FOUND", MissingDependency},
		{PostAmendAmend, 102, "POST_AMEND_AMEND", Invalid},
		{StoreRefNotFound, 200, "STORE_REF_NOT_FOUND", MissingDependency},
		{StoreUpdateUpdate, 201, "STORE_UPDATE_UPDATE", Invalid},
		{InvalidPaymentMethod, 202, "INVALID_PAYMENT_METHOD", Invalid},
		{VMRefNotFound, 300, "VM_REF_NOT_FOUND", MissingDependency},
		{VMVolumeNotFound, 301, "VM_VOLUME_NOT_FOUND", MissingDependency},
		{VMAmendNotAllowed, 302, "VM_AMEND_NOT_ALLOWED", Invalid},
		{VMUpdateUpdate, 303, "VM_UPDATE_UPDATE", Invalid},
		{VMVolumeTooSmall, 304, "VM_VOLUME_TOO_SMALL", Invalid},
		{ForgetNoTarget, 500, "FORGET_NO_TARGET", Invalid},
		{ForgetTargetNotFound, 501, "FORGET_TARGET_NOT_FOUND", MissingDependency},
		{ForgetForget, 502, "FORGET_FORGET", Invalid},
		{ForgetNotAllowed, 503, "FORGET_NOT_ALLOWED", Invalid},
		{ForgottenDuplicate, 504, "FORGOTTEN_DUPLICATE", Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.num, int(tt.code))
			require.Equal(t, tt.name, tt.code.String())
			require.Equal(t, tt.kind, tt.code.Kind())
			require.True(t, tt.code.Valid())
		})
	}
	require.Equal(t, "Code(42)", Code(42).String())
	require.False(t, Code(42).Valid())
}

func TestError(t *testing.T) {
	t.Parallel()
	cause := errors.New("boom")
	tests := []struct {
		name string
		err  error
		code Code
		kind Kind
		text string
	}{
		{"field", Field(InvalidFormat, "content.volumes[2].size_mib", "must be at most 1000"), InvalidFormat, Invalid,
			"INVALID_FORMAT: content.volumes[2].size_mib: must be at most 1000"},
		{"wrapped", fmt.Errorf("process %s: %w", "abc", Wrap(FileUnavailable, cause, "pin file")), FileUnavailable, Transient,
			"process abc: FILE_UNAVAILABLE: pin file: boom"},
		{"newf", Newf(VMRefNotFound, "vm %s not found", "x"), VMRefNotFound, MissingDependency,
			"VM_REF_NOT_FOUND: vm x not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, ok := CodeOf(tt.err)
			require.True(t, ok)
			require.Equal(t, tt.code, code)
			require.Equal(t, tt.kind, KindOf(tt.err))
			require.Equal(t, tt.text, tt.err.Error())
			require.ErrorIs(t, tt.err, New(tt.code, ""))
		})
	}
	_, ok := CodeOf(cause)
	require.False(t, ok)
	require.Equal(t, Transient, KindOf(cause))
	require.ErrorIs(t, Wrap(InternalError, cause, "x"), cause)
	require.Nil(t, Wrap(InternalError, nil, "x"))
}
