from tf_fastls0.utils import keyed_random


def test_every_kind_of_draw_has_a_stream_of_its_own():
    # two kinds of draw on one stream would draw the same numbers for the same image
    streams = {name: value for name, value in vars(keyed_random).items()
               if name.startswith("STREAM_")}
    assert len(streams) > 10
    assert len(set(streams.values())) == len(streams), sorted(streams.items(), key=lambda i: i[1])
