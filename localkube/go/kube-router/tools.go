//go:build tools

// Package tools keeps kube-router's main package in go.mod and go.sum; the binary is
// built with `go build github.com/cloudnativelabs/kube-router/v2/cmd/kube-router`.
package tools

import (
	_ "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router"
)
