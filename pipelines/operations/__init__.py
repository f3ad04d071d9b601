"""Operations: what a data engineer is told when a pipeline run fails."""
