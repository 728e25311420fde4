package sdk

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Errors that cross the process boundary keep their meaning: a Host
// implementation returns (a wrap of) one of these, the plugin gets an error
// that errors.Is the same value. Anything else arrives as its message only.
var (
	// ErrNotFound: the session, key or other object does not exist.
	ErrNotFound = errors.New("not found")
	// ErrPermission: the plugin may not do this, e.g. read a session it was
	// never sent.
	ErrPermission = errors.New("permission denied")
	// ErrInvalid: an argument is wrong, e.g. a custom field index of 7.
	ErrInvalid = errors.New("invalid argument")
	// ErrUnimplemented: the plugin does not implement the capability called.
	ErrUnimplemented = errors.New("not implemented by the plugin")
	// ErrUnhealthy: the plugin answered its health check with an error.
	ErrUnhealthy = errors.New("plugin unhealthy")
	// ErrChecksumMismatch: the executable's SHA-256 is not the one the
	// catalogue pinned at install; the host refuses to start it.
	ErrChecksumMismatch = errors.New("the plugin binary's SHA-256 checksum does not match the catalogue")
)

// toStatus turns an error of a local implementation into the gRPC status
// the other process decodes with fromStatus.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	code := codes.Unknown
	switch {
	case errors.Is(err, ErrNotFound):
		code = codes.NotFound
	case errors.Is(err, ErrPermission):
		code = codes.PermissionDenied
	case errors.Is(err, ErrInvalid):
		code = codes.InvalidArgument
	case errors.Is(err, ErrUnimplemented):
		code = codes.Unimplemented
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	}
	return status.Error(code, err.Error())
}

// remoteError is an error that came over the wire: its text is the other
// side's, and it unwraps to the sentinel its gRPC code stands for.
type remoteError struct {
	msg      string
	code     codes.Code
	sentinel error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.sentinel }

// GRPCStatus lets a remote error be passed on unchanged by toStatus.
func (e *remoteError) GRPCStatus() *status.Status { return status.New(e.code, e.msg) }

// fromStatus decodes an error returned by a gRPC call into one that
// errors.Is the matching sentinel (or context error).
func fromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	var sentinel error
	switch st.Code() {
	case codes.NotFound:
		sentinel = ErrNotFound
	case codes.PermissionDenied:
		sentinel = ErrPermission
	case codes.InvalidArgument:
		sentinel = ErrInvalid
	case codes.Unimplemented:
		sentinel = ErrUnimplemented
	case codes.DeadlineExceeded:
		sentinel = context.DeadlineExceeded
	case codes.Canceled:
		sentinel = context.Canceled
	}
	return &remoteError{msg: st.Message(), code: st.Code(), sentinel: sentinel}
}

// unimplemented is the answer to a call of a capability the plugin lacks.
func unimplemented(p Plugin, iface string) error {
	return status.Errorf(codes.Unimplemented, "plugin %q does not implement sdk.%s", p.Describe().ID, iface)
}
