"""YouTube: search results (videos, channels, playlists, ads), a video's info, its comments
and its subtitles, with the item types and result fields the docs list
(docs/endpoint-sources.md). A video keeps its id, title and channel from day to day."""

import random
from typing import Any

from orchestrator.simulator.serp import Serp, video_id


def _channel(s: Serp, rng: random.Random) -> dict[str, str]:
    name = s.words(1, 2, rng).title() or "Channel"
    handle = "".join(c for c in name.lower() if c.isalnum()) or "channel"
    return {
        "channel_id": "UC" + video_id(rng) + video_id(rng)[:11],
        "channel_name": name,
        "channel_url": f"https://www.youtube.com/@{handle}",
        "channel_logo": f"https://yt3.ggpht.com/{video_id(rng)}=s68-c-k-c0x00ffffff-no-rj",
    }


def _duration(seconds: int) -> str:
    minutes, rest = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{rest:02d}" if hours else f"{minutes}:{rest:02d}"


def _video(s: Serp, ident: random.Random, datetime: str) -> dict[str, Any]:
    vid = video_id(ident)
    seconds = ident.randint(15, 3600)
    shorts = seconds < 60
    return {
        "block_rank": 1,
        "block_name": None,
        **_channel(s, random.Random(ident.getrandbits(32))),
        "url": f"https://www.youtube.com/{'shorts/' if shorts else 'watch?v='}{vid}",
        "title": s.text(3, 9, ident),
        "video_id": vid,
        "thumbnail_url": f"https://i.ytimg.com/vi/{vid}/hqdefault.jpg",
        "description": s.text(10, 25, ident),
        "highlighted": [s.keyword] if s.keyword else None,
        "badges": ["New"] if ident.random() < 0.1 else None,
        "is_live": False,
        "is_shorts": shorts,
        "is_movie": False,
        "views_count": s.rng.randint(100, 9_000_000),
        "publication_date": f"{ident.randint(1, 11)} months ago",
        "timestamp": datetime,
        "duration_time": _duration(seconds),
        "duration_time_seconds": seconds,
    }


def organic(s: Serp, depth: int, datetime: str) -> None:
    """youtube_video results in rank order, with an ad, a channel and a playlist among them."""
    if s.rng.random() < 0.3:
        s.add("youtube_video_paid", _video(s, random.Random(s.rng.getrandbits(64)), datetime))
    for n in range(depth):
        ident = s.entity()
        if n == 2 and ident.random() < 0.4:
            channel = _channel(s, ident)
            s.add(
                "youtube_channel",
                {
                    "block_rank": n + 1,
                    "block_name": None,
                    "channel_id": channel["channel_id"],
                    "url": channel["channel_url"],
                    "name": channel["channel_name"],
                    "logo": channel["channel_logo"],
                    "video_count": ident.randint(5, 3000),
                    "is_verified": ident.random() < 0.3,
                    "description": s.text(6, 15, ident),
                    "highlighted": None,
                },
            )
        elif n == 5 and ident.random() < 0.4:
            previews = []
            for _ in range(2):
                vid = video_id(ident)
                seconds = ident.randint(60, 1200)
                previews.append(
                    {
                        "video_id": vid,
                        "title": s.text(3, 6, ident),
                        "url": f"https://www.youtube.com/watch?v={vid}",
                        "duration_time": _duration(seconds),
                        "duration_time_seconds": seconds,
                    }
                )
            s.add(
                "youtube_playlist",
                {
                    "block_rank": n + 1,
                    "block_name": None,
                    **{k: v for k, v in _channel(s, ident).items() if k != "channel_logo"},
                    "channel_logo": None,
                    "url": f"https://www.youtube.com/playlist?list=PL{video_id(ident)}",
                    "title": s.text(2, 5, ident),
                    "playlist_id": f"PL{video_id(ident)}",
                    "thumbnail_url": None,
                    "videos_count": ident.randint(3, 200),
                    "preview_videos": previews,
                },
            )
        s.add("youtube_video", {**_video(s, ident, datetime), "block_rank": n + 1}, paged=True)


def _video_of(s: Serp, params: dict[str, Any]) -> tuple[str, random.Random]:
    vid = str(params.get("video_id") or "dQw4w9WgXcQ")
    return vid, random.Random(vid)


def video_info(s: Serp, params: dict[str, Any], datetime: str) -> dict[str, Any]:
    """One youtube_video_info item; the result echoes `video_id`."""
    vid, ident = _video_of(s, params)
    seconds = ident.randint(60, 3600)
    channel = _channel(s, ident)
    s.add(
        "youtube_video_info",
        {
            "video_id": vid,
            "title": s.words(3, 8, ident).capitalize(),
            "url": f"https://www.youtube.com/watch?v={vid}",
            "thumbnail_url": f"https://i.ytimg.com/vi/{vid}/maxresdefault.jpg",
            **channel,
            "description": s.words(20, 60, ident).capitalize(),
            "views_count": s.rng.randint(1000, 90_000_000),
            "likes_count": s.rng.randint(10, 900_000),
            "comments_count": s.rng.randint(0, 50_000),
            "channel_subscribers_count": {"displayed_count": "1.2M", "count": 1_200_000},
            "publication_date": "2025-06-01",
            "timestamp": "2025-06-01 00:00:00 +00:00",
            "keywords": list(ident.choices(s.market.words, k=5)),
            "category": ident.choice(("Music", "Education", "Entertainment", "Howto & Style")),
            "is_live": False,
            "is_embeddable": True,
            "duration_time": _duration(seconds),
            "duration_time_seconds": seconds,
            "subtitles": [
                {"language": s.market.language, "is_translatable": True, "is_auto_generated": True}
            ],
            "streaming_quality": [
                {
                    "type": "streaming_quality_element",
                    "label": f"{h}p",
                    "width": h * 16 // 9,
                    "height": h,
                    "bitrate": h * 2500,
                    "mime_type": 'video/mp4; codecs="avc1.4d401f"',
                    "fps": 30,
                }
                for h in (360, 720, 1080)
            ],
        },
    )
    return {"video_id": vid}


def video_comments(s: Serp, params: dict[str, Any], depth: int) -> dict[str, Any]:
    """youtube_comment items; the result carries video_id, title and comments_count."""
    vid, ident = _video_of(s, params)
    for _ in range(depth):
        author = s.words(1, 2).title() or "Viewer"
        s.add(
            "youtube_comment",
            {
                "author_name": f"@{author.replace(' ', '')}",
                "author_thumbnail": f"https://yt3.ggpht.com/{video_id(s.rng)}=s48",
                "author_url": f"https://www.youtube.com/@{author.replace(' ', '')}",
                "text": s.words(5, 30).capitalize(),
                "publication_date": f"{s.rng.randint(1, 11)} months ago",
                "timestamp": None,
                "likes_count": s.rng.randint(0, 5000),
                "reply_count": s.rng.randint(0, 40),
            },
        )
    title = s.words(3, 8, ident).capitalize()
    return {"video_id": vid, "title": title, "comments_count": depth + ident.randint(0, 900)}


def video_subtitles(s: Serp, params: dict[str, Any]) -> dict[str, Any]:
    """youtube_subtitles lines; the result names the video and its languages."""
    vid, ident = _video_of(s, params)
    start = 0.0
    for _ in range(ident.randint(20, 60)):
        length = round(ident.uniform(1.5, 6.0), 2)
        s.add(
            "youtube_subtitles",
            {
                "text": s.words(3, 12, ident),
                "start_time": round(start, 2),
                "end_time": round(start + length, 2),
                "duration_time": length,
            },
        )
        start += length
    return {
        "video_id": vid,
        "title": s.words(3, 8, ident).capitalize(),
        "category": "Education",
        "subtitles_count": len(s.items),
        "origin_language": s.market.language,
        "translate_language": params.get("subtitles_translate_language"),
        "unsupported_language": False,
    }
