// A nil dereference in Go is a SIGSEGV its runtime turns into a panic:
// recovered once, then let through (exit 2, the trace on stderr), as on
// Linux. Without SIGSEGV delivered to the runtime's handler the process
// would just die of the fault.
package main

import "fmt"

type node struct{ next *node }

func deref(n *node) *node { return n.next }

func main() {
	func() {
		defer func() { fmt.Println("recovered:", recover()) }()
		fmt.Println(deref(nil))
	}()
	fmt.Println("after recover")
	deref(nil)
}
