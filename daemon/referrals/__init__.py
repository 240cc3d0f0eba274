"""The referral follow-up: asks, introductions, offers, influence and who sends business."""
