"""Advanced result items of the YouTube endpoints: search (`youtube_video`,
`youtube_video_paid`, `youtube_channel`, `youtube_playlist`), a video's info, its comments
and its subtitles. Fields from the official client's models (docs/endpoint-sources.md)."""

from typing import Any

import msgspec

from schemas.items import Item


class _YoutubeBlock(Item, kw_only=True):
    """Where a result sits among YouTube's blocks (shelves) of results."""

    block_rank: int | None = None
    block_name: str | None = None
    channel_id: str | None = None
    url: str | None = None


class YoutubeVideoItem(_YoutubeBlock, tag="youtube_video"):
    """A video in YouTube's search results."""

    title: str | None = None
    video_id: str | None = None
    thumbnail_url: str | None = None
    channel_name: str | None = None
    channel_url: str | None = None
    channel_logo: str | None = None
    description: str | None = None
    highlighted: list[str | None] | None = None
    badges: list[str | None] | None = None
    is_live: bool | None = None
    is_shorts: bool | None = None
    is_movie: bool | None = None
    views_count: int | None = None
    publication_date: str | None = None
    timestamp: str | None = None
    duration_time: str | None = None
    duration_time_seconds: int | None = None


class YoutubeVideoPaidItem(YoutubeVideoItem, tag="youtube_video_paid"):
    """A promoted video (same fields as a video)."""


class YoutubeChannelItem(_YoutubeBlock, tag="youtube_channel"):
    """A channel in YouTube's search results."""

    name: str | None = None
    logo: str | None = None
    video_count: int | None = None
    is_verified: bool | None = None
    description: str | None = None
    highlighted: list[str | None] | None = None


class PreviewVideo(msgspec.Struct, kw_only=True):
    """One video shown with a playlist."""

    video_id: str | None = None
    title: str | None = None
    url: str | None = None
    duration_time: str | None = None
    duration_time_seconds: int | None = None


class YoutubePlaylistItem(_YoutubeBlock, tag="youtube_playlist"):
    """A playlist in YouTube's search results."""

    title: str | None = None
    playlist_id: str | None = None
    thumbnail_url: str | None = None
    channel_name: str | None = None
    channel_url: str | None = None
    channel_logo: str | None = None
    videos_count: int | None = None
    preview_videos: list[PreviewVideo | None] | None = None


class SubscribersCount(msgspec.Struct, kw_only=True):
    displayed_count: str | None = None
    count: int | None = None


class YoutubeVideoInfoItem(Item, tag="youtube_video_info"):
    """One video's page: counts, channel, category, subtitles and streams."""

    video_id: str | None = None
    title: str | None = None
    url: str | None = None
    thumbnail_url: str | None = None
    channel_id: str | None = None
    channel_name: str | None = None
    channel_url: str | None = None
    channel_logo: str | None = None
    description: str | None = None
    views_count: int | None = None
    likes_count: int | None = None
    comments_count: int | None = None
    channel_subscribers_count: SubscribersCount | None = None
    publication_date: str | None = None
    timestamp: str | None = None
    keywords: list[str | None] | None = None
    category: str | None = None
    is_live: bool | None = None
    is_embeddable: bool | None = None
    duration_time: str | None = None
    duration_time_seconds: int | None = None
    subtitles: list[dict[str, Any]] | None = None
    streaming_quality: list[dict[str, Any]] | None = None


class YoutubeCommentItem(Item, tag="youtube_comment"):
    """One comment under a video."""

    author_name: str | None = None
    author_thumbnail: str | None = None
    author_url: str | None = None
    text: str | None = None
    publication_date: str | None = None
    timestamp: str | None = None
    likes_count: int | None = None
    reply_count: int | None = None


class YoutubeSubtitlesItem(Item, tag="youtube_subtitles"):
    """One line of a video's subtitles."""

    text: str | None = None
    start_time: float | None = None
    end_time: float | None = None
    duration_time: float | None = None


YoutubeOrganicItemUnion = (
    YoutubeVideoItem | YoutubeVideoPaidItem | YoutubeChannelItem | YoutubePlaylistItem
)
