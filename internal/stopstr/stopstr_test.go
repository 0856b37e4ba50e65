package stopstr

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSet(t *testing.T) {
	s := New([]string{"</s>", "END"})
	require.Equal(t, 3, s.HoldBack([]byte("abc</s")))
	require.Equal(t, 1, s.HoldBack([]byte("abcE")))
	require.Equal(t, 2, s.HoldBack([]byte("abcEN")))
	require.Equal(t, 0, s.HoldBack([]byte("abc")))
	require.Equal(t, 0, s.HoldBack([]byte("")))
	require.Equal(t, 0, New(nil).HoldBack([]byte("abc")))
	require.Equal(t, 2, s.Find([]byte("abEND</s>")))
	require.Equal(t, 2, s.Find([]byte("ab</s>END")), "the first one in the text, whichever string it is")
	require.Equal(t, -1, s.Find([]byte("abEN")))
	require.Equal(t, -1, New(nil).Find([]byte("abc")))
}

func TestStream(t *testing.T) {
	st := NewStream([]string{"END"})
	out := func(piece string) string { s, stopped := st.Push(piece); require.False(t, stopped); return s }
	require.Equal(t, "ab", out("ab"))
	require.Equal(t, "c", out("cE"), "E may begin END: held")
	require.Equal(t, "Ex", out("x"), "it did not")
	s, stopped := st.Push("yEN")
	require.Equal(t, "y", s)
	require.False(t, stopped)
	s, stopped = st.Push("Dz")
	require.Equal(t, "", s, "the stop string split over pieces")
	require.True(t, stopped)
	s, stopped = st.Push("more")
	require.Equal(t, "", s)
	require.True(t, stopped)
	require.Equal(t, "", st.Flush())

	st = NewStream([]string{"END"})
	s, _ = st.Push("abEN")
	require.Equal(t, "ab", s)
	require.Equal(t, "EN", st.Flush(), "at the end, what was held comes out")
	st = NewStream(nil)
	s, _ = st.Push("anything")
	require.Equal(t, "anything", s)
}
