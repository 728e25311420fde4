package sdk

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// An error keeps its sentinel and its text across the wire, both ways.
func TestStatusRoundTrip(t *testing.T) {
	tests := []struct {
		err      error
		code     codes.Code
		sentinel error
	}{
		{fmt.Errorf("session 5: %w", ErrNotFound), codes.NotFound, ErrNotFound},
		{fmt.Errorf("session 5 was not sent to this plugin: %w", ErrPermission), codes.PermissionDenied, ErrPermission},
		{fmt.Errorf("cfields[7]: %w", ErrInvalid), codes.InvalidArgument, ErrInvalid},
		{fmt.Errorf("codec: %w", ErrUnimplemented), codes.Unimplemented, ErrUnimplemented},
		{fmt.Errorf("query: %w", context.DeadlineExceeded), codes.DeadlineExceeded, context.DeadlineExceeded},
		{fmt.Errorf("query: %w", context.Canceled), codes.Canceled, context.Canceled},
		{errors.New("database is locked"), codes.Unknown, nil},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			wire := toStatus(tt.err)
			if got := status.Code(wire); got != tt.code {
				t.Errorf("code = %v, want %v", got, tt.code)
			}
			back := fromStatus(wire)
			if back.Error() != tt.err.Error() {
				t.Errorf("text = %q, want %q", back.Error(), tt.err.Error())
			}
			if tt.sentinel != nil && !errors.Is(back, tt.sentinel) {
				t.Errorf("%v does not match %v after the round trip", back, tt.sentinel)
			}
			// Passed on again (host -> plugin -> host), it keeps its code.
			if got := status.Code(toStatus(fmt.Errorf("outer: %w", back))); got != tt.code {
				t.Errorf("relayed code = %v, want %v", got, tt.code)
			}
		})
	}
	if toStatus(nil) != nil || fromStatus(nil) != nil {
		t.Error("nil is not kept nil")
	}
}
