// Command printversion prints version.Get(), for the linker flag test.
package main

import (
	"fmt"

	"github.com/registrar-dev/registrar/pkg/version"
)

func main() {
	fmt.Println(version.Get())
}
