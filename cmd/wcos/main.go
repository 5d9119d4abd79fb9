package main

import (
	"fmt"

	"github.com/wcos-dev/wcos/bindings"
)

func main() { fmt.Println(bindings.SystemInfo()) }
