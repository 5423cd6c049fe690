// Command etcd is upstream etcd's server entry point, built from the Go module proxy for
// the e2e cluster (etcd's own main package lives in a module that is not published).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
