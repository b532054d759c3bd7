package esdb

import (
	"context"
	"errors"
	"io"
	"net"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	pb "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// fakeStreamsServer is a FAKE EventStoreDB, for tests only: an in-memory implementation of
// the gRPC Streams service (event_store.client.streams.Streams) generated in
// EventStore-Client-Go v4's protos, small and only as wide as this adapter's calls. It is
// not a server: it exists so that every test run exercises the adapter's own logic
// (revisions, error mapping, positions, filtering) through the real client library. What
// it mimics, from the server's documentation and source (EventStore/EventStore,
// Services/Transport/Grpc and the storage writer):
//   - append with an expected revision (any, no_stream, stream_exists or a revision) and
//     the WrongExpectedVersion result, with both the current and the 20.6.0 fields;
//   - idempotent append: a write whose event ids are already stored where it would put
//     them (just after its expected revision) succeeds without storing anything and
//     answers the original's revision and position;
//   - $all positions that are byte offsets in one log: increasing, with gaps, never 0, the
//     commit and prepare position equal for an event written alone;
//   - reads of one stream (stream_not_found when it has no events) and of $all, forwards
//     from a position inclusive or backwards from the end; like the server's newest log
//     chunk, a read of $all refuses a position that is not a record's start;
//   - catch-up subscriptions to $all, from a position exclusive, with a filter on stream
//     name or event type (prefixes or a regex), then live; caught_up when it gets there.
//
// Not mimicked: filtered reads (the v4 client cannot send them), subscription checkpoints
// (the adapter ignores them), stream subscriptions, deletes, batch appends, links, auth,
// TLS and cluster gossip. The ServerFeatures service is not registered: the client then
// takes the node for an older server without it, which is fine for these calls.
type fakeStreamsServer struct {
	pb.UnimplementedStreamsServer

	mu      sync.Mutex
	all     []*fakeEvent // $all in position order
	streams map[string][]*fakeEvent
	next    uint64        // log position of the next record
	wake    chan struct{} // closed and replaced by every append: wakes subscriptions

	// Test hooks; set them through the setters (the handlers run on other goroutines).
	beforeAppend         func(ctx context.Context, stream string) error
	afterReadAllEvent    func(position uint64) // after each event a forward read of $all sends
	idempotentNoPosition bool
	filters              []*pb.ReadReq_Options_FilterOptions // of each subscription
	appends              []string                            // "<stream> <expected revision>" of each append received
}

type fakeEvent struct {
	stream   string
	revision uint64
	id       uuid.UUID
	metadata map[string]string // type, content-type and created, as the server sends them
	custom   []byte
	data     []byte
	position uint64
}

// fakeLogStart is where the fake's first event sits: a real log starts with the server's
// own records (an epoch record at 0), so no event has position 0.
const fakeLogStart = 4096

func newFakeStreamsServer() *fakeStreamsServer {
	return &fakeStreamsServer{streams: map[string][]*fakeEvent{}, next: fakeLogStart, wake: make(chan struct{})}
}

// startFake serves a new fake on 127.0.0.1 and returns it with its connection string.
func startFake(t testing.TB) (*fakeStreamsServer, string) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// The client pings every 10 s; the server permits it, gRPC's default policy would not.
	srv := grpc.NewServer(grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
		MinTime: 5 * time.Second, PermitWithoutStream: true,
	}))
	f := newFakeStreamsServer()
	pb.RegisterStreamsServer(srv, f)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return f, "esdb://" + lis.Addr().String() + "?tls=false"
}

func (f *fakeStreamsServer) setBeforeAppend(fn func(ctx context.Context, stream string) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.beforeAppend = fn
}

func (f *fakeStreamsServer) setAfterReadAllEvent(fn func(position uint64)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.afterReadAllEvent = fn
}

func (f *fakeStreamsServer) subscriptionFilters() []*pb.ReadReq_Options_FilterOptions {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.filters)
}

func (f *fakeStreamsServer) setIdempotentNoPosition(v bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.idempotentNoPosition = v
}

func (f *fakeStreamsServer) appendLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.appends)
}

// Append is the client-streaming append: options first, then the proposed events.
func (f *fakeStreamsServer) Append(srv pb.Streams_AppendServer) error {
	first, err := srv.Recv()
	if err != nil {
		return err
	}
	opts := first.GetOptions()
	if opts == nil {
		return status.Error(codes.InvalidArgument, "fake: append must start with options")
	}
	stream := string(opts.GetStreamIdentifier().GetStreamName())
	var proposed []*pb.AppendReq_ProposedMessage
	for {
		req, err := srv.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		msg := req.GetProposedMessage()
		if msg == nil {
			return status.Error(codes.InvalidArgument, "fake: options sent twice")
		}
		for _, k := range []string{"type", "content-type"} {
			if _, ok := msg.Metadata[k]; !ok {
				return status.Errorf(codes.InvalidArgument, "required metadata property %s is missing", k)
			}
		}
		proposed = append(proposed, msg)
	}
	f.mu.Lock()
	hook := f.beforeAppend
	f.mu.Unlock()
	if hook != nil {
		if err := hook(srv.Context(), stream); err != nil {
			return err
		}
	}
	return srv.SendAndClose(f.append(stream, opts, proposed))
}

// append applies one append under the lock: the expected-revision check, idempotence, the
// write and its answer.
func (f *fakeStreamsServer) append(stream string, opts *pb.AppendReq_Options, proposed []*pb.AppendReq_ProposedMessage) *pb.AppendResp {
	f.mu.Lock()
	defer f.mu.Unlock()
	stored := f.streams[stream]
	current := int64(len(stored)) - 1 // -1: no stream
	ids := make([]uuid.UUID, len(proposed))
	for i, m := range proposed {
		ids[i] = fromUUID(m.GetId())
	}

	var ok bool
	idempotentFrom := int64(-1) // where an idempotent write's ids would already sit
	wev := &pb.AppendResp_WrongExpectedVersion{}
	switch e := opts.GetExpectedStreamRevision().(type) {
	case *pb.AppendReq_Options_Any:
		ok, idempotentFrom = true, indexOf(stored, ids)
		f.appends = append(f.appends, stream+" any")
		wev.ExpectedRevisionOption = &pb.AppendResp_WrongExpectedVersion_ExpectedAny{ExpectedAny: &shared.Empty{}}
		wev.ExpectedRevisionOption_20_6_0 = &pb.AppendResp_WrongExpectedVersion_Any_20_6_0{Any_20_6_0: &shared.Empty{}}
	case *pb.AppendReq_Options_StreamExists:
		ok, idempotentFrom = current >= 0, indexOf(stored, ids)
		f.appends = append(f.appends, stream+" stream_exists")
		wev.ExpectedRevisionOption = &pb.AppendResp_WrongExpectedVersion_ExpectedStreamExists{ExpectedStreamExists: &shared.Empty{}}
		wev.ExpectedRevisionOption_20_6_0 = &pb.AppendResp_WrongExpectedVersion_StreamExists_20_6_0{StreamExists_20_6_0: &shared.Empty{}}
	case *pb.AppendReq_Options_NoStream:
		ok, idempotentFrom = current == -1, 0
		f.appends = append(f.appends, stream+" no_stream")
		wev.ExpectedRevisionOption = &pb.AppendResp_WrongExpectedVersion_ExpectedNoStream{ExpectedNoStream: &shared.Empty{}}
	case *pb.AppendReq_Options_Revision:
		ok, idempotentFrom = current == int64(e.Revision), int64(e.Revision)+1
		f.appends = append(f.appends, stream+" "+strconv.FormatUint(e.Revision, 10))
		wev.ExpectedRevisionOption = &pb.AppendResp_WrongExpectedVersion_ExpectedRevision{ExpectedRevision: e.Revision}
		wev.ExpectedRevisionOption_20_6_0 = &pb.AppendResp_WrongExpectedVersion_ExpectedRevision_20_6_0{ExpectedRevision_20_6_0: e.Revision}
	}

	if idempotentFrom >= 0 && idempotentFrom+int64(len(ids)) <= int64(len(stored)) && len(ids) > 0 &&
		slices.EqualFunc(stored[idempotentFrom:idempotentFrom+int64(len(ids))], ids, func(e *fakeEvent, id uuid.UUID) bool { return e.id == id }) {
		last := stored[idempotentFrom+int64(len(ids))-1]
		res := &pb.AppendResp_Success{CurrentRevisionOption: &pb.AppendResp_Success_CurrentRevision{CurrentRevision: last.revision}}
		if f.idempotentNoPosition {
			res.PositionOption = &pb.AppendResp_Success_NoPosition{NoPosition: &shared.Empty{}}
		} else {
			res.PositionOption = &pb.AppendResp_Success_Position{Position: &pb.AppendResp_Position{CommitPosition: last.position, PreparePosition: last.position}}
		}
		return &pb.AppendResp{Result: &pb.AppendResp_Success_{Success: res}}
	}
	if !ok {
		if current < 0 {
			wev.CurrentRevisionOption = &pb.AppendResp_WrongExpectedVersion_CurrentNoStream{CurrentNoStream: &shared.Empty{}}
			wev.CurrentRevisionOption_20_6_0 = &pb.AppendResp_WrongExpectedVersion_NoStream_20_6_0{NoStream_20_6_0: &shared.Empty{}}
		} else {
			wev.CurrentRevisionOption = &pb.AppendResp_WrongExpectedVersion_CurrentRevision{CurrentRevision: uint64(current)}
			wev.CurrentRevisionOption_20_6_0 = &pb.AppendResp_WrongExpectedVersion_CurrentRevision_20_6_0{CurrentRevision_20_6_0: uint64(current)}
		}
		return &pb.AppendResp{Result: &pb.AppendResp_WrongExpectedVersion_{WrongExpectedVersion: wev}}
	}
	if len(proposed) == 0 {
		return &pb.AppendResp{Result: &pb.AppendResp_Success_{Success: &pb.AppendResp_Success{
			CurrentRevisionOption: &pb.AppendResp_Success_NoStream{NoStream: &shared.Empty{}},
			PositionOption:        &pb.AppendResp_Success_NoPosition{NoPosition: &shared.Empty{}},
		}}}
	}
	var last *fakeEvent
	for i, m := range proposed {
		last = f.put(stream, ids[i], m.Metadata, m.CustomMetadata, m.Data)
	}
	return &pb.AppendResp{Result: &pb.AppendResp_Success_{Success: &pb.AppendResp_Success{
		CurrentRevisionOption: &pb.AppendResp_Success_CurrentRevision{CurrentRevision: last.revision},
		PositionOption:        &pb.AppendResp_Success_Position{Position: &pb.AppendResp_Position{CommitPosition: last.position, PreparePosition: last.position}},
	}}}
}

// put stores one event without any check; the caller holds the lock. Positions advance by
// a record's size, as byte offsets in the server's log do.
func (f *fakeStreamsServer) put(stream string, id uuid.UUID, meta map[string]string, custom, data []byte) *fakeEvent {
	md := map[string]string{
		"type":         meta["type"],
		"content-type": meta["content-type"],
		// .NET ticks (100 ns) since the Unix epoch, which the client parses.
		"created": strconv.FormatInt(time.Now().UnixNano()/100, 10),
	}
	e := &fakeEvent{
		stream: stream, revision: uint64(len(f.streams[stream])), id: id,
		metadata: md, custom: custom, data: data, position: f.next,
	}
	f.next += uint64(64 + len(stream) + len(md["type"]) + len(custom) + len(data))
	f.streams[stream] = append(f.streams[stream], e)
	f.all = append(f.all, e)
	close(f.wake)
	f.wake = make(chan struct{})
	return e
}

// putDirect stores an event as another writer would, bypassing every check: for tests that
// need a competing write inside an append, or foreign events in $all.
func (f *fakeStreamsServer) putDirect(stream string, id uuid.UUID, eventType string, data []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.put(stream, id, map[string]string{"type": eventType, "content-type": "application/json"}, nil, data)
}

// indexOf is where ids sit consecutively in stored, -1 if they do not.
func indexOf(stored []*fakeEvent, ids []uuid.UUID) int64 {
	for i, e := range stored {
		if len(ids) > 0 && e.id == ids[0] {
			return int64(i)
		}
	}
	return -1
}

// Read serves reads of one stream, reads of $all and subscriptions to $all.
func (f *fakeStreamsServer) Read(req *pb.ReadReq, srv pb.Streams_ReadServer) error {
	o := req.GetOptions()
	structured := o.GetUuidOption().GetString_() == nil
	if o.GetSubscription() != nil {
		if o.GetAll() == nil {
			return status.Error(codes.Unimplemented, "fake: stream subscriptions")
		}
		return f.subscribe(o, structured, srv)
	}
	if o.GetFilter() != nil {
		return status.Error(codes.Unimplemented, "fake: filtered reads")
	}
	backwards := o.GetReadDirection() == pb.ReadReq_Options_Backwards
	var evs []*fakeEvent
	if so := o.GetStream(); so != nil {
		name := string(so.GetStreamIdentifier().GetStreamName())
		f.mu.Lock()
		evs = slices.Clone(f.streams[name])
		f.mu.Unlock()
		if len(evs) == 0 {
			return srv.Send(&pb.ReadResp{Content: &pb.ReadResp_StreamNotFound_{StreamNotFound: &pb.ReadResp_StreamNotFound{
				StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(name)},
			}}})
		}
		evs = streamRange(evs, so, backwards)
	} else {
		at, err := f.allStart(o.GetAll())
		if err != nil {
			return err
		}
		if !backwards {
			return f.readAllForwards(at, o.GetCount(), structured, srv)
		}
		f.mu.Lock()
		evs = slices.Clone(f.all[:at])
		f.mu.Unlock()
		slices.Reverse(evs)
	}
	for i, e := range evs {
		if uint64(i) >= o.GetCount() {
			break
		}
		if err := srv.Send(readEvent(e, structured)); err != nil {
			return err
		}
	}
	return nil
}

// readAllForwards sends $all from index at on, reading the log as it goes: like the
// server, which reads $all page by page, it also sends events stored after the read began.
func (f *fakeStreamsServer) readAllForwards(at int, count uint64, structured bool, srv pb.Streams_ReadServer) error {
	for i := at; uint64(i-at) < count; i++ {
		f.mu.Lock()
		if i >= len(f.all) {
			f.mu.Unlock()
			return nil
		}
		e, hook := f.all[i], f.afterReadAllEvent
		f.mu.Unlock()
		if err := srv.Send(readEvent(e, structured)); err != nil {
			return err
		}
		if hook != nil {
			hook(e.position)
		}
	}
	return nil
}

// streamRange is what a read of one stream returns, before its count.
func streamRange(evs []*fakeEvent, o *pb.ReadReq_Options_StreamOptions, backwards bool) []*fakeEvent {
	from := 0
	switch {
	case o.GetEnd() != nil:
		from = len(evs) - 1
	case o.GetStart() == nil:
		from = int(min(o.GetRevision(), uint64(len(evs))))
	}
	if !backwards {
		return evs[from:]
	}
	out := slices.Clone(evs[:min(from+1, len(evs))])
	slices.Reverse(out)
	return out
}

// allStart is the index in $all of the first event at or after a read's position. Like
// the server's newest log chunk, it refuses a position inside the log that is not a
// record's start; past the end, the read is empty.
func (f *fakeStreamsServer) allStart(o *pb.ReadReq_Options_AllOptions) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case o.GetStart() != nil:
		return 0, nil
	case o.GetEnd() != nil:
		return len(f.all), nil
	}
	p := o.GetPosition().GetCommitPosition()
	at := sort.Search(len(f.all), func(i int) bool { return f.all[i].position >= p })
	if p != 0 && p < f.next && (at == len(f.all) || f.all[at].position != p) {
		return 0, status.Errorf(codes.Unknown, "fake: $all position %d is not the start of a record", p)
	}
	return at, nil
}

// subscribe is a catch-up subscription to $all: confirmation, the stored events after the
// start that pass the filter, caught_up, then each new one until the client leaves.
func (f *fakeStreamsServer) subscribe(o *pb.ReadReq_Options, structured bool, srv pb.Streams_ReadServer) error {
	match, err := filterOf(o.GetFilter())
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.filters = append(f.filters, o.GetFilter())
	f.mu.Unlock()
	if err := srv.Send(&pb.ReadResp{Content: &pb.ReadResp_Confirmation{Confirmation: &pb.ReadResp_SubscriptionConfirmation{
		SubscriptionId: uuid.NewString(),
	}}}); err != nil {
		return err
	}
	var after uint64 // the subscription starts after this position
	hasAfter := false
	if p := o.GetAll().GetPosition(); p != nil {
		after, hasAfter = p.GetCommitPosition(), true
	} else if o.GetAll().GetEnd() != nil {
		f.mu.Lock()
		after, hasAfter = f.next, true
		f.mu.Unlock()
	}
	sent, caughtUp := 0, false // sent: index in $all of the next event to consider
	for {
		f.mu.Lock()
		evs, wake := f.all[sent:], f.wake
		f.mu.Unlock()
		for _, e := range evs {
			sent++
			if (hasAfter && e.position <= after) || !match(e) {
				continue
			}
			if err := srv.Send(readEvent(e, structured)); err != nil {
				return err
			}
		}
		if !caughtUp {
			caughtUp = true
			if err := srv.Send(&pb.ReadResp{Content: &pb.ReadResp_CaughtUp_{CaughtUp: &pb.ReadResp_CaughtUp{}}}); err != nil {
				return err
			}
		}
		select {
		case <-wake:
		case <-srv.Context().Done():
			return srv.Context().Err()
		}
	}
}

// filterOf is a subscription's filter: on stream name or event type, by prefixes or regex.
func filterOf(o *pb.ReadReq_Options_FilterOptions) (func(*fakeEvent) bool, error) {
	if o == nil {
		return func(*fakeEvent) bool { return true }, nil
	}
	expr, field := o.GetStreamIdentifier(), func(e *fakeEvent) string { return e.stream }
	if o.GetEventType() != nil {
		expr, field = o.GetEventType(), func(e *fakeEvent) string { return e.metadata["type"] }
	}
	if expr.GetRegex() != "" {
		re, err := regexp.Compile(expr.GetRegex())
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "filter regex: %v", err)
		}
		return func(e *fakeEvent) bool { return re.MatchString(field(e)) }, nil
	}
	return func(e *fakeEvent) bool {
		return slices.ContainsFunc(expr.GetPrefix(), func(p string) bool { return strings.HasPrefix(field(e), p) })
	}, nil
}

func readEvent(e *fakeEvent, structured bool) *pb.ReadResp {
	return &pb.ReadResp{Content: &pb.ReadResp_Event{Event: &pb.ReadResp_ReadEvent{
		Event: &pb.ReadResp_ReadEvent_RecordedEvent{
			Id:               toUUID(e.id, structured),
			StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(e.stream)},
			StreamRevision:   e.revision,
			PreparePosition:  e.position,
			CommitPosition:   e.position,
			Metadata:         e.metadata,
			CustomMetadata:   e.custom,
			Data:             e.data,
		},
		Position: &pb.ReadResp_ReadEvent_CommitPosition{CommitPosition: e.position},
	}}}
}

func toUUID(id uuid.UUID, structured bool) *shared.UUID {
	if !structured {
		return &shared.UUID{Value: &shared.UUID_String_{String_: id.String()}}
	}
	var most, least int64
	for i := range 8 {
		most = most<<8 | int64(id[i])
		least = least<<8 | int64(id[8+i])
	}
	return &shared.UUID{Value: &shared.UUID_Structured_{Structured: &shared.UUID_Structured{
		MostSignificantBits: most, LeastSignificantBits: least,
	}}}
}

func fromUUID(u *shared.UUID) uuid.UUID {
	if s := u.GetStructured(); s != nil {
		var id uuid.UUID
		for i := range 8 {
			id[7-i] = byte(uint64(s.MostSignificantBits) >> (8 * i))
			id[15-i] = byte(uint64(s.LeastSignificantBits) >> (8 * i))
		}
		return id
	}
	id, _ := uuid.Parse(u.GetString_())
	return id
}

// fakeFailure returns a gRPC error with the trailers the server sends with it (pairs such
// as "exception", "stream-deleted"), which the client's error mapping reads.
func fakeFailure(ctx context.Context, code codes.Code, trailers ...string) error {
	_ = grpc.SetTrailer(ctx, metadata.Pairs(trailers...))
	return status.Error(code, "fake: injected failure")
}
