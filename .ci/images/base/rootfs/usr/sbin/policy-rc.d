#!/bin/sh
# Never start services from maintainer scripts inside an image build.
exit 101
