package registry

import (
	"bytes"
	"errors"
	"io"
	"net/url"
	"testing"
)

// FuzzCappedBody: the cap passes exactly the bytes up to the limit, and
// fails a body longer than the limit, however the reads are sized.
func FuzzCappedBody(f *testing.F) {
	f.Add([]byte("hello"), uint16(5), uint8(1))
	f.Add([]byte("hello!"), uint16(5), uint8(3))
	f.Add([]byte{}, uint16(0), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, limit uint16, chunk uint8) {
		b := &cappedBody{rc: io.NopCloser(bytes.NewReader(data)), left: int64(limit), limit: int64(limit), url: "u"}
		var got []byte
		buf := make([]byte, int(chunk)+1)
		var err error
		for {
			var n int
			n, err = b.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				break
			}
		}
		var tooLarge *ErrTooLarge
		if len(data) > int(limit) {
			if !errors.As(err, &tooLarge) || len(got) > int(limit) {
				t.Fatalf("%d bytes through a cap of %d: read %d, err %v", len(data), limit, len(got), err)
			}
			return
		}
		if err != io.EOF || !bytes.Equal(got, data) {
			t.Fatalf("%d bytes under a cap of %d: read %d, err %v", len(data), limit, len(got), err)
		}
	})
}

// FuzzNextPage: a Link header never leads to another host.
func FuzzNextPage(f *testing.F) {
	f.Add(`</v2/a/referrers/sha256:x?n=2>; rel="next"`)
	f.Add(`<https://evil.example/v2/>; rel="next"`)
	f.Add(`<//evil.example/x>; rel="next", <a>; rel="prev"`)
	cur, _ := url.Parse("https://reg.example.com/v2/a/referrers/sha256:x")
	f.Fuzz(func(t *testing.T, link string) {
		u, err := nextPage(cur, link)
		if err == nil && u != nil && u.Host != cur.Host {
			t.Fatalf("Link %q leads to %s", link, u.Host)
		}
	})
}
