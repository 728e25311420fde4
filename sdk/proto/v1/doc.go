// Package pluginv1 is the generated gRPC code of the Tether plugin protocol,
// version 1 (tether.proto). It owns the wire format only: plugin authors use
// package sdk, which converts to and from these messages. Never edit the
// generated files by hand; see ../README.md to regenerate them.
package pluginv1

//go:generate protoc --proto_path=. --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative tether.proto
