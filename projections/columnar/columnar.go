// Package columnar is the one snapshot encoding of the read side: a state is a fixed list of
// columns, each a slice of one basic type (or of strings), written as its length and its
// elements in little-endian order. A column of numbers is read back with one copy, not
// decoded entry by entry, so a snapshot loads at about the speed it is read; states hold
// no maps or pointers, so equal states give equal bytes.
package columnar

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrCorrupt: the bytes are not the columns asked for.
var ErrCorrupt = errors.New("columnar: corrupt data")

// Marshal appends the columns to b. Each column is a pointer to a slice of bool, uint8,
// uint16, uint32, int32, int64, uint64 or string; anything else panics, as a programming
// error.
func Marshal(b []byte, columns ...any) []byte {
	for _, c := range columns {
		switch c := c.(type) {
		case *[]string:
			b = binary.AppendUvarint(b, uint64(len(*c)))
			for _, s := range *c {
				b = binary.AppendUvarint(b, uint64(len(s)))
				b = append(b, s...)
			}
		default:
			n, size := length(c)
			b = binary.AppendUvarint(b, uint64(n))
			if n == 0 {
				continue
			}
			start := len(b)
			b = append(b, make([]byte, n*size)...)
			if _, err := binary.Encode(b[start:], binary.LittleEndian, deref(c)); err != nil {
				panic(fmt.Sprintf("columnar: %T: %v", c, err))
			}
		}
	}
	return b
}

// Unmarshal replaces each column with the one read from data, which must hold exactly the
// columns given, of the same types.
func Unmarshal(data []byte, columns ...any) error {
	for i, c := range columns {
		n, k := binary.Uvarint(data)
		if k <= 0 || n > uint64(len(data)) {
			return fmt.Errorf("%w: column %d: bad length", ErrCorrupt, i)
		}
		data = data[k:]
		if c, ok := c.(*[]string); ok {
			out := make([]string, n)
			for j := range out {
				m, k := binary.Uvarint(data)
				if k <= 0 || m > uint64(len(data)-k) {
					return fmt.Errorf("%w: column %d: bad string", ErrCorrupt, i)
				}
				out[j] = string(data[k : k+int(m)])
				data = data[k+int(m):]
			}
			*c = out
			continue
		}
		size := make1(c, int(n))
		if int(n)*size > len(data) {
			return fmt.Errorf("%w: column %d: %d elements of %d bytes, %d bytes left", ErrCorrupt, i, n, size, len(data))
		}
		if n > 0 {
			if _, err := binary.Decode(data[:int(n)*size], binary.LittleEndian, deref(c)); err != nil {
				return fmt.Errorf("%w: column %d: %v", ErrCorrupt, i, err)
			}
		}
		data = data[int(n)*size:]
	}
	if len(data) > 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(data))
	}
	return nil
}

// length returns a numeric column's length and element size.
func length(c any) (n, size int) {
	switch c := c.(type) {
	case *[]bool:
		return len(*c), 1
	case *[]uint8:
		return len(*c), 1
	case *[]uint16:
		return len(*c), 2
	case *[]uint32:
		return len(*c), 4
	case *[]int32:
		return len(*c), 4
	case *[]int64:
		return len(*c), 8
	case *[]uint64:
		return len(*c), 8
	}
	panic(fmt.Sprintf("columnar: unsupported column %T", c))
}

// make1 replaces a numeric column with n zero elements and returns the element size.
func make1(c any, n int) int {
	switch c := c.(type) {
	case *[]bool:
		*c = make([]bool, n)
	case *[]uint8:
		*c = make([]uint8, n)
	case *[]uint16:
		*c = make([]uint16, n)
	case *[]uint32:
		*c = make([]uint32, n)
	case *[]int32:
		*c = make([]int32, n)
	case *[]int64:
		*c = make([]int64, n)
	case *[]uint64:
		*c = make([]uint64, n)
	default:
		panic(fmt.Sprintf("columnar: unsupported column %T", c))
	}
	_, size := length(c)
	return size
}

// deref turns a pointer to a slice into the slice, the form encoding/binary copies fast.
func deref(c any) any {
	switch c := c.(type) {
	case *[]bool:
		return *c
	case *[]uint8:
		return *c
	case *[]uint16:
		return *c
	case *[]uint32:
		return *c
	case *[]int32:
		return *c
	case *[]int64:
		return *c
	case *[]uint64:
		return *c
	}
	panic(fmt.Sprintf("columnar: unsupported column %T", c))
}
