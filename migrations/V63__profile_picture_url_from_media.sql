-- A profile's picture is the media file `profile_picture_media_id` names; its URL is signed when
-- the profile is answered (signed URLs expire), never stored. The column nothing wrote goes.
ALTER TABLE users DROP COLUMN profile_picture_url;
