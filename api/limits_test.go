package api

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// Issue 19 item 9: an upload is held one chunk at a time; only a report that
// fits in one chunk stays in memory whole.
func TestReadImportFileHoldsOneChunk(t *testing.T) {
	size := 5*importChunk + 3
	var stored []int
	f, err := readImportFile(io.LimitReader(zeros{}, int64(size)), uuid.New(), func(seq int, data []byte) error {
		if seq != len(stored) {
			t.Errorf("chunk %d stored as %d", len(stored), seq)
		}
		stored = append(stored, len(data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if f.small != nil || f.size != int64(size) || f.chunks != 6 || len(f.head) != 512 {
		t.Errorf("large file: small %d bytes, size %d, chunks %d, head %d", len(f.small), f.size, f.chunks, len(f.head))
	}
	for i, n := range stored {
		if n > importChunk {
			t.Errorf("chunk %d holds %d bytes, more than %d", i, n, importChunk)
		}
	}
	f, err = readImportFile(strings.NewReader("<nmaprun/>"), uuid.New(), func(int, []byte) error {
		t.Error("a small report was stored in chunks")
		return nil
	})
	if err != nil || string(f.small) != "<nmaprun/>" || f.chunks != 0 {
		t.Errorf("small file: %+v %v", f, err)
	}
	_, err = readImportFile(io.LimitReader(zeros{}, MaxImportBytes+1), uuid.New(), func(int, []byte) error { return nil })
	if err != errImportTooLarge {
		t.Errorf("over the limit: %v", err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// Issue 19 item 9: concurrent imports per tenant and in total.
func TestImportSlots(t *testing.T) {
	var s importSlots
	lim := ImportLimits{PerTenant: 2, Total: 3}
	a, b := uuid.New(), uuid.New()
	r1, ok1 := s.acquire(a, lim)
	_, ok2 := s.acquire(a, lim)
	if _, ok := s.acquire(a, lim); !ok1 || !ok2 || ok {
		t.Fatalf("tenant a: %v %v %v, want two places and no third", ok1, ok2, ok)
	}
	if _, ok := s.acquire(b, lim); !ok {
		t.Fatal("tenant b refused while the total has room")
	}
	if _, ok := s.acquire(b, lim); ok {
		t.Fatal("a fourth upload in all was accepted")
	}
	r1()
	r1() // releasing twice frees one place only
	if _, ok := s.acquire(b, lim); !ok {
		t.Fatal("a released place was not reusable")
	}
	if _, ok := s.acquire(b, lim); ok {
		t.Fatal("a double release freed two places")
	}
}

// Issue 19 item 9: the server bounds reading every request, and the read
// timeout does not cut off a long response such as an event stream.
func TestServerTimeoutsSpareStreams(t *testing.T) {
	srv := NewHTTPServer(nil)
	if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout <= 0 || srv.IdleTimeout <= 0 {
		t.Fatalf("timeouts: header %v, read %v, idle %v", srv.ReadHeaderTimeout, srv.ReadTimeout, srv.IdleTimeout)
	}
	srv.ReadTimeout = 200 * time.Millisecond
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" {
			if _, err := io.ReadAll(r.Body); err != nil {
				w.WriteHeader(http.StatusRequestTimeout)
			}
			return
		}
		rc := http.NewResponseController(w)
		for i := range 8 {
			fmt.Fprintf(w, "data: %d\n\n", i)
			if rc.Flush() != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	resp, err := http.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || bytes.Count(b, []byte("data: ")) != 8 {
		t.Fatalf("the stream was cut after %q: %v", b, err)
	}

	// A body trickled past the read timeout is cut off.
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprint(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	if strings.Contains(line, "200") {
		t.Fatalf("a trickled body was read to the end: %q", line)
	}
}
